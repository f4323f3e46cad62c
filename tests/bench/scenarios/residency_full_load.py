"""Residency: a full extract of the whole city (1,300,000 residents) loaded from file through residency_sync.

Service: ``residency-sync import-file --kind full`` as its own process, from start to exit (lines checked,
My Numbers sealed and hashed, versions, current pointers and the `registered` person changes committed);
then, separately, the outbox relay publishing those person changes. Baseline: in the same run, on the same
server, the same file read with Python's csv module and its rows COPY'd by asyncpg into a table of the same
columns (text, no index, no logic) — what moving the bytes into PostgreSQL costs at the least.

    BENCH_ONLY=residency-full-load BENCH_SCALE=0.05 make bench     # 65,000 residents
    BENCH_FULL_LOAD_RESIDENTS=200000 BENCH_ONLY=residency-full-load make bench
"""

from __future__ import annotations

import asyncio
import csv
import os
import time
from pathlib import Path

import asyncpg
from harness import BenchContext, Figure, ServiceProcess, _vm_hwm_kb, scenario, wait_until
from kokunen_testing.synthetic import SyntheticCity, extract_line, write_extract
from residency_sync.adapters.legacy_file import COLUMNS

FULL = 1_300_000
FIRST_ATENA = 20_000_000


def write_city(path: Path, count: int, encoding: str) -> Path:
    residents = SyntheticCity(seed=1300).residents(count, first_atena=FIRST_ATENA)
    return write_extract(path, (extract_line(r) for r in residents), encoding)


async def raw_copy(admin_url: str, path: Path, encoding: str) -> float:
    """Baseline: seconds to read the file and COPY its rows into a plain table of the same columns."""
    conn = await asyncpg.connect(admin_url)
    try:
        columns = [f"c{i}" for i in range(len(COLUMNS))]
        await conn.execute("CREATE SCHEMA IF NOT EXISTS bench")
        await conn.execute("DROP TABLE IF EXISTS bench.raw_resident")
        await conn.execute(f"CREATE TABLE bench.raw_resident ({', '.join(c + ' text' for c in columns)})")

        async def copy(rows: list[list[str]]) -> None:
            await conn.copy_records_to_table("raw_resident", schema_name="bench", columns=columns, records=rows)

        started = time.perf_counter()
        with path.open(encoding=encoding, newline="") as f:
            reader = csv.reader(f)
            next(reader)
            batch: list[list[str]] = []
            for row in reader:
                batch.append(row)
                if len(batch) >= 5000:
                    await copy(batch)
                    batch = []
            if batch:
                await copy(batch)
        seconds = time.perf_counter() - started
        await conn.execute("DROP TABLE bench.raw_resident")
        return seconds
    finally:
        await conn.close()


@scenario("residency-full-load")
async def residency_full_load(ctx: BenchContext) -> list[Figure]:
    count = int(os.environ.get("BENCH_FULL_LOAD_RESIDENTS", ctx.scaled(FULL)))
    encoding = os.environ.get("BENCH_FULL_LOAD_ENCODING", "cp932")
    started = time.perf_counter()
    path = write_city(ctx.workdir / f"zenken-{count}.csv", count, encoding)
    print(
        f"  extract of {count:,} residents written ({path.stat().st_size / 1e6:.0f} MB, {encoding}) "
        f"in {time.perf_counter() - started:.0f} s",
        flush=True,
    )

    baseline = await raw_copy(ctx.platform.infra.admin_db_url, path, encoding)

    importer = ServiceProcess(ctx, "residency_sync", "import-file", "--kind", "full", str(path)).start()
    started = time.perf_counter()
    code = await _wait_exit(importer)
    loaded_s = time.perf_counter() - started
    if code != 0:
        raise RuntimeError(f"import-file exited with {code}: see {importer.log}")

    conn = await ctx.db("residency_sync")
    try:
        applied: int = await conn.fetchval(
            "SELECT applied FROM residency.file_import WHERE file_name = $1 ORDER BY started_at DESC LIMIT 1", path.name
        )

        async def published() -> bool:
            pending: int = await conn.fetchval("SELECT count(*) FROM residency.outbox WHERE published_at IS NULL")
            return pending == 0

        relay = ServiceProcess(ctx, "residency_sync").start()
        relayed_s = await wait_until(published, timeout_s=3600, interval_s=1.0)
        relay.finish()
    finally:
        await conn.close()
    return [
        Figure(
            "residency-full-load",
            "full extract → slice + outbox",
            count,
            loaded_s,
            "csv + asyncpg COPY, same rows",
            baseline,
            importer.max_rss_mb,
            target="≥ 50 % of baseline; RSS ≤ 250 MB",
            notes={"applied": applied, "encoding": encoding},
        ),
        Figure(
            "residency-full-load",
            "… registered events published",
            count,
            relayed_s,
            None,
            None,
            relay.max_rss_mb,
        ),
    ]


async def _wait_exit(service: ServiceProcess) -> int:
    """Wait for the process to exit on its own; record its peak RSS as ``ServiceProcess.finish`` does (its own
    VmHWM, sampled while it lives), without blocking the event loop."""
    assert service.process is not None
    peak_kb = 0
    while True:
        peak_kb = max(peak_kb, _vm_hwm_kb(service.process.pid))
        pid, status, usage = os.wait4(service.process.pid, os.WNOHANG)  # noqa: ASYNC222 (WNOHANG: no wait)
        if pid:
            service.max_rss_mb = (peak_kb or usage.ru_maxrss) / 1024
            service.process.returncode = os.waitstatus_to_exitcode(status)
            return service.process.returncode
        await asyncio.sleep(0.2)
