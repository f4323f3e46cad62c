"""Tax: the annual run (1,000,000 assessments from a file) and corrections from Kafka, through tax_sync.

File path — service: ``tax-sync import-file`` as its own process, from the first byte read to the income
slice committed (and then until every ``tax.income-determined.v1`` is published by the running service's
file relay, acknowledged by Kafka). Baseline: in the same run, the same file read line by line and the same
rows COPYed by asyncpg into a plain table (no checks, no supersession, no events).

Kafka path — service: ``tax-sync run`` from the first record to the last assessment in the slice (and its
event published). Baseline: a plain aiokafka consumer group reading the same records.

Sizes: ``BENCH_SCALE`` scales both; ``BENCH_TAX_ROWS`` / ``BENCH_TAX_EVENTS`` set them outright.
"""

from __future__ import annotations

import os
import time
import uuid

from harness import BenchContext, Figure, ServiceProcess, raw_consume, scenario, wait_until
from kokunen_contracts.registry import INCOME_ASSESSED, INCOME_DETERMINED
from kokunen_testing.factories import income_assessed
from kokunen_testing.tax_files import synthetic_lines, write_file
from tax_sync.domain.fields import FIELDS

FULL_FILE = 1_000_000
FULL_EVENTS = 100_000
FILE_FIRST_ATENA = 300_000_000_000
KAFKA_FIRST_ATENA = 310_000_000_000


def _size(ctx: BenchContext, variable: str, full: int) -> int:
    return int(os.environ[variable]) if os.environ.get(variable) else ctx.scaled(full)


async def _raw_file_copy(ctx: BenchContext, path: os.PathLike[str], rows: int) -> float:
    """Baseline: read the file's lines and COPY them as they are into a plain logged table."""
    admin = await ctx.platform.admin()
    table = f"bench_tax_raw_{uuid.uuid4().hex[:8]}"
    columns = ", ".join(f"{f.name} text" for f in FIELDS)
    await admin.execute(f"CREATE TABLE public.{table} (line bigint, {columns})")
    try:
        started = time.perf_counter()

        async def chunks():  # type: ignore[no-untyped-def]
            with open(path, encoding="utf-8", newline="") as f:  # noqa: ASYNC230 - the baseline reads as the service does
                next(f)  # header
                parts = []
                for number, line in enumerate(f, start=2):
                    parts.append(f"{number},{line}")
                    if len(parts) >= 20_000:
                        yield "".join(parts).encode()
                        parts = []
                if parts:
                    yield "".join(parts).encode()

        await admin.copy_to_table(table, schema_name="public", source=chunks(), format="csv")
        seconds = time.perf_counter() - started
        assert await admin.fetchval(f"SELECT count(*) FROM public.{table}") == rows
        return seconds
    finally:
        await admin.execute(f"DROP TABLE public.{table}")
        await admin.close()


@scenario("tax-annual")
async def tax_annual(ctx: BenchContext) -> list[Figure]:
    rows = _size(ctx, "BENCH_TAX_ROWS", FULL_FILE)
    events = _size(ctx, "BENCH_TAX_EVENTS", FULL_EVENTS)
    path = write_file(ctx.workdir / "shotoku-annual.csv", synthetic_lines(rows, first_atena=FILE_FIRST_ATENA))
    print(f"  file: {rows} lines, {path.stat().st_size / 1e6:.0f} MB; Kafka: {events} events", flush=True)
    await ctx.platform.publish(
        INCOME_ASSESSED,
        [income_assessed(str(KAFKA_FIRST_ATENA + n), seq=n % 3) for n in range(events)],
        source="/bench/zei-system",
    )

    kafka_baseline = await raw_consume(
        ctx.platform.bootstrap, INCOME_ASSESSED.name, events, group=f"bench-{uuid.uuid4()}"
    )
    file_baseline = await _raw_file_copy(ctx, path, rows)

    conn = await ctx.db("tax_sync")
    try:

        async def count(low: int, high: int) -> int:
            return int(
                await conn.fetchval(
                    "SELECT count(*) FROM tax.income_assessment WHERE atena_number BETWEEN $1 AND $2",
                    str(low),
                    str(high),
                )
            )

        async def published() -> bool:
            pending: int = await conn.fetchval(
                "SELECT count(*) FROM tax.outbox WHERE published_at IS NULL AND topic = $1", INCOME_DETERMINED.name
            )
            return pending == 0

        service = ServiceProcess(
            ctx, "tax_sync", env={"OUTBOX_BATCH_SIZE": os.environ.get("OUTBOX_BATCH_SIZE", "5000")}
        )
        started = time.perf_counter()
        service.start()
        kafka_applied_s = await wait_until(
            lambda: _at_least(count(KAFKA_FIRST_ATENA, KAFKA_FIRST_ATENA + events), events)
        )
        await wait_until(published)
        kafka_published_s = time.perf_counter() - started

        importer = ServiceProcess(ctx, "tax_sync", "import-file", str(path))
        started = time.perf_counter()
        importer.start()
        code = importer.finish(stop=False, timeout_s=1800)
        import_s = time.perf_counter() - started
        assert code == 0, f"import-file exited {code}; see {importer.log}"
        assert await count(FILE_FIRST_ATENA, FILE_FIRST_ATENA + rows) == rows

        async def file_published() -> bool:  # the file relay publishes an annual file's figures from the slice
            return bool(await conn.fetchval("SELECT bool_and(published_at IS NOT NULL) FROM tax.imported_file"))

        await wait_until(file_published)
        file_published_s = time.perf_counter() - started
        service.finish()
    finally:
        await conn.close()
    rss = max(importer.max_rss_mb or 0, service.max_rss_mb or 0)
    return [
        Figure(
            "tax-annual",
            "annual file → income slice",
            rows,
            import_s,
            "read file + asyncpg COPY",
            file_baseline,
            importer.max_rss_mb,
            target="≥ 50 % of baseline, ≤ 60 s, RSS ≤ 250 MB",
        ),
        Figure(
            "tax-annual",
            "… and income events published",
            rows,
            file_published_s,
            "read file + asyncpg COPY",
            file_baseline,
            rss,
            target="≤ 60 s",
        ),
        Figure(
            "tax-annual",
            "Kafka corrections → income slice",
            events,
            kafka_applied_s,
            "raw aiokafka consume",
            kafka_baseline,
            service.max_rss_mb,
        ),
        Figure(
            "tax-annual",
            "… and income events published",
            events,
            kafka_published_s,
            "raw aiokafka consume",
            kafka_baseline,
            service.max_rss_mb,
        ),
    ]


async def _at_least(value: object, target: int) -> bool:
    return bool(await value >= target)  # type: ignore[operator]
