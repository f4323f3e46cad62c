"""Counter (窓口): 50 staff sessions at once, each searching a person by 宛名番号 and opening the person page
(each with its 処理事由, each writing its access-log row), over N persons in the read model — 130,000 unless
``BENCH_COUNTER_PERSONS`` says otherwise (the issue's size: ``BENCH_COUNTER_PERSONS=1300000``). The counter runs
as its own process; every session signed in through the real OIDC provider.

    BENCH_ONLY=counter make bench
    BENCH_ONLY=counter BENCH_COUNTER_PERSONS=1300000 make bench

Baseline, same run, same data, same concurrency: the same reads as raw asyncpg queries (the search, then the
person, qualification events and incomes), without HTTP, templates, sessions or the access log. p50/p95 of the
search, of the person page and of the pair, each beside the baseline's.

The read model is seeded by COPY, as the service would have kept it from the topics (a stream of 1.3 million
person events is the residency scenarios' subject).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import statistics
import time
import uuid
from datetime import UTC, date, datetime

import asyncpg
import httpx
from harness import BenchContext, Figure, ServiceProcess, scenario
from kokunen_testing.counter_client import sign_in
from kokunen_testing.infra import load_localstack, repo_root
from kokunen_testing.synthetic import SyntheticCity

PERSONS = 130_000
SESSIONS = 50
ROUNDS = 20  # search + view pairs per session
FIRST_ATENA = 30_000_000
TARGET = "p95 ≤ 150 ms (search + view)"


async def seed(ctx: BenchContext, count: int) -> None:
    recorded = datetime.now(UTC)
    persons, periods = [], []
    for r in SyntheticCity(seed=59).residents(count, first_atena=FIRST_ATENA):
        address = json.dumps({"text": r.address, "postal_code": r.postal_code}, ensure_ascii=False)
        kana = r.kana.replace(" ", "")
        persons.append((r.atena_number, r.household_number, r.name, r.kana, kana, r.sex, r.birth_date, address,
                        True, True, "japanese", False, "registered", r.birth_date, uuid.uuid4(), recorded))  # fmt: skip
        if r.birth_date <= date(2006, 11, 1):
            acquired = date(r.birth_date.year + 20, r.birth_date.month, 1)
            periods.append((uuid.uuid4(), r.atena_number, "acquired", uuid.uuid4(), "category_1", acquired,
                            "reached_20", acquired, recorded))  # fmt: skip
    conn = await ctx.db("counter")
    try:
        await conn.copy_records_to_table(
            "person",
            schema_name="counter",
            columns=(
                "atena_number",
                "household_number",
                "name",
                "name_kana",
                "kana_key",
                "sex",
                "birth_date",
                "address",
                "is_resident",
                "lives_in_japan",
                "resident_class",
                "suspended",
                "change_kind",
                "effective_date",
                "last_event_id",
                "recorded_at",
            ),
            records=persons,
        )
        await conn.copy_records_to_table(
            "qualification_event",
            schema_name="counter",
            columns=(
                "event_id",
                "atena_number",
                "kind",
                "period_id",
                "category",
                "acquired_on",
                "acquisition_reason",
                "effective_date",
                "recorded_at",
            ),
            records=periods,
        )
    finally:
        await conn.close()
    admin = await ctx.platform.admin()
    try:
        await admin.execute("ANALYZE counter.person; ANALYZE counter.qualification_event")
    finally:
        await admin.close()


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18] if len(values) > 1 else values[0]


def percentiles(name: str, values: list[float]) -> dict[str, float]:
    return {
        f"{name}_p50_ms": round(statistics.median(values) * 1000, 1),
        f"{name}_p95_ms": round(p95(values) * 1000, 1),
    }


Timings = dict[str, list[float]]  # "search", "view", "pair": seconds per request


async def raw_reads(ctx: BenchContext, atenas: list[list[str]]) -> tuple[float, Timings]:
    """The same reads, straight from asyncpg, one connection per session."""
    url = ctx.platform.settings("counter").database_url.get_secret_value()
    pool = await asyncpg.create_pool(url, min_size=SESSIONS, max_size=SESSIONS)
    timings: Timings = {"search": [], "view": [], "pair": []}

    async def session(mine: list[str]) -> None:
        async with pool.acquire() as conn:
            for atena in mine:
                started = time.perf_counter()
                await conn.fetch("SELECT atena_number, name, name_kana, birth_date, sex FROM counter.person "
                                 "WHERE atena_number = $1", atena)  # fmt: skip
                searched = time.perf_counter()
                await conn.fetchrow("SELECT * FROM counter.person WHERE atena_number = $1", atena)
                await conn.fetch("SELECT * FROM counter.qualification_event WHERE atena_number = $1", atena)
                await conn.fetch("SELECT * FROM counter.income WHERE atena_number = $1", atena)
                viewed = time.perf_counter()
                timings["search"].append(searched - started)
                timings["view"].append(viewed - searched)
                timings["pair"].append(viewed - started)

    started = time.perf_counter()
    try:
        await asyncio.gather(*(session(mine) for mine in atenas))
    finally:
        await pool.close()
    return time.perf_counter() - started, timings


@scenario("counter")
async def counter_inquiry(ctx: BenchContext) -> list[Figure]:
    count = int(os.environ.get("BENCH_COUNTER_PERSONS", PERSONS))
    await seed(ctx, count)
    rnd = random.Random(7)
    atenas = [[f"{FIRST_ATENA + rnd.randrange(count):010d}" for _ in range(ROUNDS)] for _ in range(SESSIONS)]
    baseline_s, baseline = await raw_reads(ctx, atenas)

    localstack = load_localstack()
    oidc = localstack.start_oidc(ctx.workdir / "oidc")
    port = localstack.free_port()
    url = f"http://127.0.0.1:{port}"
    tokens = repo_root() / ".cache" / "design-tokens" / "1.1.9" / "package" / "dist" / "tokens.css"
    env = {"COUNTER_HTTP_PORT": str(port), "COUNTER_SESSION_SECRET": base64.b64encode(os.urandom(32)).decode(),
           "COUNTER_COOKIE_SECURE": "false", "OIDC_ISSUER_URL": oidc.issuer,
           "COUNTER_DESIGN_TOKENS_CSS": str(tokens), "DATABASE_POOL_SIZE": "20"}  # fmt: skip
    counter = ServiceProcess(ctx, "counter", env=env).start()
    timings: Timings = {"search": [], "view": [], "pair": []}
    try:
        async with httpx.AsyncClient() as probe:
            for _ in range(600):
                try:
                    if (await probe.get(f"{url}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        viewer = localstack.DEMO_STAFF[0]
        # Idle connections are dropped before uvicorn's keep-alive timeout (5 s) closes them under a request.
        limits = httpx.Limits(keepalive_expiry=2)
        clients = [httpx.AsyncClient(timeout=60, limits=limits) for _ in range(SESSIONS)]
        csrfs = [await sign_in(client, url, viewer) for client in clients]

        async def session(client: httpx.AsyncClient, csrf: str, mine: list[str]) -> None:
            reason = {"csrf_token": csrf, "reason_code": "03", "reason_text": "記録の確認 (bench)"}
            for atena in mine:
                started = time.perf_counter()
                found = await client.post(f"{url}/search", data={**reason, "atena_number": atena})
                searched = time.perf_counter()
                page = await client.post(f"{url}/person", data={**reason, "atena_number": atena})
                viewed = time.perf_counter()
                timings["search"].append(searched - started)
                timings["view"].append(viewed - searched)
                timings["pair"].append(viewed - started)
                if found.status_code != 200 or page.status_code != 200:
                    raise RuntimeError(f"search {found.status_code}, view {page.status_code} for {atena}")

        cpu_before = counter.cpu_seconds()
        started = time.perf_counter()
        try:
            await asyncio.gather(*(session(c, t, mine) for c, t, mine in zip(clients, csrfs, atenas, strict=True)))
        finally:
            for client in clients:
                await client.aclose()
        seconds = time.perf_counter() - started
        cpu_ms_per_pair = (counter.cpu_seconds() - cpu_before) * 1000 / (SESSIONS * ROUNDS)
    finally:
        counter.finish()
        oidc.stop()
    pairs = SESSIONS * ROUNDS
    for name in ("search", "view", "pair"):
        mine, raw = percentiles(name, timings[name]), percentiles(name, baseline[name])
        print(f"  {name:<6} counter p50 {mine[f'{name}_p50_ms']:>7.1f} ms  p95 {mine[f'{name}_p95_ms']:>7.1f} ms │ "
              f"raw p50 {raw[f'{name}_p50_ms']:>6.1f} ms  p95 {raw[f'{name}_p95_ms']:>6.1f} ms")  # fmt: skip
    print(f"  counter process CPU per pair: {cpu_ms_per_pair:.1f} ms")
    return [
        Figure(
            "counter",
            f"{SESSIONS} sessions: search + view",
            pairs,
            seconds,
            "raw asyncpg, same reads, 50 conn.",
            baseline_s,
            counter.max_rss_mb,
            TARGET,
            notes={
                "persons": count,
                **{k: v for name, values in timings.items() for k, v in percentiles(name, values).items()},
                **{k: v for name, values in baseline.items() for k, v in percentiles(f"raw_{name}", values).items()},
                "counter_cpu_ms_per_pair": round(cpu_ms_per_pair, 1),
                "access_log_rows_written": 2 * pairs,
            },
        )
    ]
