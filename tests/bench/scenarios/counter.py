"""Counter (窓口): 50 staff sessions at once, each searching a person by 宛名番号 and opening the person page
(each with its 処理事由, each writing its access-log row), over N persons in the read model — 130,000 unless
``BENCH_COUNTER_PERSONS`` says otherwise (the issue's size: ``BENCH_COUNTER_PERSONS=1300000``). The counter runs
as deployed: its service process and ``COUNTER_WEB_WORKERS`` page workers (``BENCH_COUNTER_WORKERS``, 2 unless set,
as deploy/k8s/counter.yaml); every session signed in through the real OIDC provider. After the run the access log
must hold exactly one row per search and per view, or the scenario fails.

    BENCH_ONLY=counter make bench
    BENCH_ONLY=counter BENCH_COUNTER_PERSONS=1300000 make bench

Baseline, same run, same data, same concurrency: the same reads as raw asyncpg queries (the search, then the
person, qualification events and incomes), without HTTP, templates, sessions or the access log. p50/p95 of the
search, of the person page and of the pair (p99 too), each beside the baseline's; the CPU time of all the
counter's processes per pair, and the load average (the machine may be shared).

The read model is seeded by COPY, as the service would have kept it from the topics (a stream of 1.3 million
person events is the residency scenarios' subject).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import resource
import statistics
import time
import uuid
from datetime import UTC, date, datetime
from itertools import islice

import asyncpg
import httpx
from harness import BenchContext, Figure, ServiceProcess, database_pid, scenario, tree_cpu_seconds
from kokunen_testing.counter_client import sign_in
from kokunen_testing.infra import load_localstack, repo_root
from kokunen_testing.synthetic import SyntheticCity

PERSONS = 130_000
SESSIONS = 50
ROUNDS = 20  # search + view pairs per session
FIRST_ATENA = 30_000_000
TARGET = "p95 ≤ 150 ms (search + view)"
LOGGED = "SELECT count(*) FROM counter.access_log WHERE action IN ('search', 'view')"


PERSON_COLUMNS = ("atena_number", "household_number", "name", "name_kana", "kana_key", "sex", "birth_date", "address",
                  "is_resident", "lives_in_japan", "resident_class", "suspended", "change_kind", "effective_date",
                  "last_event_id", "recorded_at")  # fmt: skip
PERIOD_COLUMNS = ("event_id", "atena_number", "kind", "period_id", "category", "acquired_on", "acquisition_reason",
                  "effective_date", "recorded_at", "basic_pension_number")  # fmt: skip
SEED_CHUNK = 100_000
SEEDED_TABLES = ["person", "qualification_event"]


async def seed(ctx: BenchContext, count: int) -> float:
    """COPY ``count`` persons (and a 第1号 period with a 基礎年金番号 for each one of 20 or over) in chunks, the
    tables' secondary indexes dropped first and built once at the end from their own definitions; returns the
    seconds taken."""
    started = time.perf_counter()
    recorded = datetime.now(UTC)
    residents = SyntheticCity(seed=59).residents(count, first_atena=FIRST_ATENA)
    conn, admin = await ctx.db("counter"), await ctx.platform.admin()
    try:
        indexes = await admin.fetch(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = 'counter' "
            "AND i.tablename = ANY($1::text[]) AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
            "WHERE c.conname = i.indexname AND c.connamespace = 'counter'::regnamespace)",
            SEEDED_TABLES,
        )
        for index in indexes:
            await admin.execute(f'DROP INDEX counter."{index["indexname"]}"')
        while chunk := list(islice(residents, SEED_CHUNK)):
            persons, periods = [], []
            for r in chunk:
                address = json.dumps({"text": r.address, "postal_code": r.postal_code}, ensure_ascii=False)
                persons.append((r.atena_number, r.household_number, r.name, r.kana, r.kana.replace(" ", ""), r.sex,
                                r.birth_date, address, True, True, "japanese", False, "registered", r.birth_date,
                                uuid.uuid4(), recorded))  # fmt: skip
                if r.birth_date <= date(2006, 11, 1):
                    acquired = date(r.birth_date.year + 20, r.birth_date.month, 1)
                    # Everyone insured has a 基礎年金番号, as in a city: the search by it and the page's lookup of
                    # the latest one read a full index, not an empty one.
                    periods.append((uuid.uuid4(), r.atena_number, "acquired", uuid.uuid4(), "category_1", acquired,
                                    "reached_20", acquired, recorded, f"4{r.atena_number[1:]}"))  # fmt: skip
            await conn.copy_records_to_table("person", schema_name="counter", columns=PERSON_COLUMNS, records=persons)
            await conn.copy_records_to_table(
                "qualification_event", schema_name="counter", columns=PERIOD_COLUMNS, records=periods
            )
        for index in indexes:
            await admin.execute(index["indexdef"])
        await admin.execute("ANALYZE counter.person; ANALYZE counter.qualification_event")
    finally:
        await conn.close()
        await admin.close()
    return time.perf_counter() - started


def client_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18] if len(values) > 1 else values[0]


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) > 1 else values[0]


def percentiles(name: str, values: list[float]) -> dict[str, float]:
    return {
        f"{name}_p50_ms": round(statistics.median(values) * 1000, 1),
        f"{name}_p95_ms": round(p95(values) * 1000, 1),
        f"{name}_p99_ms": round(p99(values) * 1000, 1),
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
    seed_s = await seed(ctx, count)
    print(f"  seeded {count:,} persons in {seed_s:.1f} s", flush=True)
    rnd = random.Random(7)
    atenas = [[f"{FIRST_ATENA + rnd.randrange(count):010d}" for _ in range(ROUNDS)] for _ in range(SESSIONS)]
    database = await database_pid(ctx)
    raw_cpu_before = (tree_cpu_seconds(database) if database else 0.0) + client_cpu_seconds()
    baseline_s, baseline = await raw_reads(ctx, atenas)
    raw_cpu_ms_per_pair = (
        ((tree_cpu_seconds(database) if database else 0.0) + client_cpu_seconds() - raw_cpu_before)
        * 1000
        / (SESSIONS * ROUNDS)
    )

    localstack = load_localstack()
    oidc = localstack.start_oidc(ctx.workdir / "oidc")
    port = localstack.free_port()
    url = f"http://127.0.0.1:{port}"
    tokens = repo_root() / ".cache" / "design-tokens" / "1.1.9" / "package" / "dist" / "tokens.css"
    env = {"COUNTER_HTTP_PORT": str(port), "COUNTER_SESSION_SECRET": base64.b64encode(os.urandom(32)).decode(),
           "COUNTER_COOKIE_SECURE": "false", "OIDC_ISSUER_URL": oidc.issuer,
           "COUNTER_DESIGN_TOKENS_CSS": str(tokens), "DATABASE_POOL_SIZE": "20",
           # As deployed (deploy/k8s/counter.yaml, docker-compose.yml): a page worker per core.
           "COUNTER_WEB_WORKERS": os.environ.get("BENCH_COUNTER_WORKERS", "2")}  # fmt: skip
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
        # Idle connections are dropped long before the counter's keep-alive timeout (75 s) closes them.
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

        conn = await ctx.db("counter")
        try:
            logged_before = await conn.fetchval(LOGGED)
        finally:
            await conn.close()
        cpu_before, load_before = counter.cpu_seconds(), os.getloadavg()[0]
        own_cpu_before, client_cpu_before = counter.cpu_seconds(children=False), client_cpu_seconds()
        database_cpu_before = tree_cpu_seconds(database) if database else 0.0
        started = time.perf_counter()
        try:
            await asyncio.gather(*(session(c, t, mine) for c, t, mine in zip(clients, csrfs, atenas, strict=True)))
        finally:
            for client in clients:
                await client.aclose()
        seconds = time.perf_counter() - started
        cpu_ms_per_pair = (counter.cpu_seconds() - cpu_before) * 1000 / (SESSIONS * ROUNDS)
        own_cpu_ms_per_pair = (counter.cpu_seconds(children=False) - own_cpu_before) * 1000 / (SESSIONS * ROUNDS)
        client_cpu_ms_per_pair = (client_cpu_seconds() - client_cpu_before) * 1000 / (SESSIONS * ROUNDS)
        database_cpu_ms_per_pair = (
            (tree_cpu_seconds(database) - database_cpu_before) * 1000 / (SESSIONS * ROUNDS) if database else None
        )
        load_after = os.getloadavg()[0]
    finally:
        counter.finish()
        oidc.stop()
    pairs = SESSIONS * ROUNDS
    conn = await ctx.db("counter")
    try:
        logged = await conn.fetchval(LOGGED) - logged_before
    finally:
        await conn.close()
    if logged != 2 * pairs:
        raise RuntimeError(f"the access log holds {logged} search/view rows for {2 * pairs} requests")
    for name in ("search", "view", "pair"):
        mine, raw = percentiles(name, timings[name]), percentiles(name, baseline[name])
        print(f"  {name:<6} counter p50 {mine[f'{name}_p50_ms']:>7.1f} ms  p95 {mine[f'{name}_p95_ms']:>7.1f} ms  "
              f"p99 {mine[f'{name}_p99_ms']:>7.1f} ms │ raw p50 {raw[f'{name}_p50_ms']:>6.1f} ms  "
              f"p95 {raw[f'{name}_p95_ms']:>6.1f} ms  p99 {raw[f'{name}_p99_ms']:>6.1f} ms")  # fmt: skip
    print(f"  counter CPU per pair (all its processes): {cpu_ms_per_pair:.1f} ms, of which the service process "
          f"(topics, outbox, worker supervision) {own_cpu_ms_per_pair:.1f} ms; PostgreSQL "
          f"{'—' if database_cpu_ms_per_pair is None else f'{database_cpu_ms_per_pair:.1f} ms'}; the 50 clients "
          f"(this process) {client_cpu_ms_per_pair:.1f} ms │ raw reads: PostgreSQL + client "
          f"{raw_cpu_ms_per_pair:.1f} ms; "
          f"load average before / after: {load_before:.1f} / {load_after:.1f}")  # fmt: skip
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
                "seed_s": round(seed_s, 1),
                **{k: v for name, values in timings.items() for k, v in percentiles(name, values).items()},
                **{k: v for name, values in baseline.items() for k, v in percentiles(f"raw_{name}", values).items()},
                "counter_cpu_ms_per_pair": round(cpu_ms_per_pair, 1),
                "service_process_cpu_ms_per_pair": round(own_cpu_ms_per_pair, 1),
                "database_cpu_ms_per_pair": None
                if database_cpu_ms_per_pair is None
                else round(database_cpu_ms_per_pair, 1),
                "client_cpu_ms_per_pair": round(client_cpu_ms_per_pair, 1),
                "raw_database_and_client_cpu_ms_per_pair": round(raw_cpu_ms_per_pair, 1),
                "counter_workers": int(env["COUNTER_WEB_WORKERS"]),
                "load_average_1min": [round(load_before, 1), round(load_after, 1)],
                "access_log_rows_written": logged,
            },
        )
    ]
