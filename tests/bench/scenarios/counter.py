"""Counter (窓口): 50 staff sessions, each searching a person by 宛名番号 and opening the person page (each with
its 処理事由, each writing its access-log row), over N persons in the read model — 130,000 unless
``BENCH_COUNTER_PERSONS`` says otherwise (the issue's size: ``BENCH_COUNTER_PERSONS=1300000``). The counter runs
as deployed: its service process and ``COUNTER_WEB_WORKERS`` page workers (``BENCH_COUNTER_WORKERS``, 2 unless set,
as deploy/k8s/counter.yaml); every session signed in through the real OIDC provider. After the run the access log
must hold exactly one row per search and per view, or the scenario fails.

    BENCH_ONLY=counter make bench
    BENCH_ONLY=counter BENCH_COUNTER_PERSONS=1300000 make bench
    BENCH_ONLY=counter BENCH_COUNTER_RATES=5,10,20,40 BENCH_COUNTER_PACED_SECONDS=60 make bench

Two load models:
- **saturation** (closed loop): every session does ROUNDS pairs back to back with no pause — how many pairs per
  second the counter serves at most; its latency is then 50 ÷ that throughput (Little's law), not what staff see.
- **an office's pace** (open loop): each session starts pairs as a Poisson process (exponential think times),
  ``BENCH_COUNTER_RATES`` pairs per second offered in all (10, 20, 40 unless set) for
  ``BENCH_COUNTER_PACED_SECONDS`` (30) each. Latency counts from when a pair was due, so a pair that waits behind
  its session's previous one, or for a busy machine, shows it (no coordinated omission).

Baseline, same run, same data, same sessions and schedule: the same reads as raw asyncpg queries (the search,
then the person, qualification events and incomes) on one connection per session, without HTTP, templates,
sessions or the access log. p50/p95/p99 of the search, of the person page and of the pair, each beside the
baseline's; the CPU time per pair of all the counter's processes (and of its service process alone), of
PostgreSQL and of the load generator, and the load average (the machine may be shared).

The sessions sign in with httpx (the same redirects as a browser), then post their forms through a lean client
(``light_http``: httptools, one keep-alive connection each), whose CPU per pair is a fraction of httpx's;
``BENCH_COUNTER_CLIENT=httpx`` sends them with httpx instead.

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
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from itertools import islice
from typing import Any

import asyncpg
import httpx
from harness import BenchContext, Figure, ServiceProcess, database_pid, scenario, tree_cpu_seconds
from kokunen_testing.counter_client import sign_in
from kokunen_testing.infra import load_localstack, repo_root
from kokunen_testing.synthetic import SyntheticCity
from light_http import LightClient

PERSONS = 130_000
SESSIONS = 50
ROUNDS = 20  # search + view pairs per session, closed loop
RATES = "10,20,40"
"""Offered pairs per second, all sessions together, in the paced runs. A clerk at a busy counter opens a person
every minute or two: 50 staff offer about 0.5–1 pair/s. 10/s is ten times that; 40/s, what a whole city's
counters would not reach."""
PACED_S = 30
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
Plan = list[tuple[float, str]]  # one session's pairs: (when to start, s after the run's start; 宛名番号)
Pair = Callable[[int, str], Awaitable[tuple[float, float]]]
"""``pair(session, atena)``: one search + person view by that session; returns when each was answered."""


def saturation_plans(count: int) -> list[Plan]:
    """Closed loop: every session's ROUNDS pairs back to back, no pause (start times are ignored)."""
    rnd = random.Random(7)
    return [[(0.0, f"{FIRST_ATENA + rnd.randrange(count):010d}") for _ in range(ROUNDS)] for _ in range(SESSIONS)]


def office_plans(rate: float, seconds: float, count: int) -> list[Plan]:
    """Open loop, an office's pace: each session starts its pairs as a Poisson process of ``rate / SESSIONS`` per
    second (think times drawn from an exponential distribution, independent of how long the pages took), so the
    counter is offered ``rate`` pairs per second in all over ``seconds``."""
    rnd = random.Random(rate)
    plans: list[Plan] = []
    for _ in range(SESSIONS):
        plan: Plan = []
        at = rnd.expovariate(rate / SESSIONS)
        while at < seconds:
            plan.append((at, f"{FIRST_ATENA + rnd.randrange(count):010d}"))
            at += rnd.expovariate(rate / SESSIONS)
        plans.append(plan)
    return plans


async def drive(pair: Pair, plans: list[Plan], *, paced: bool) -> tuple[float, Timings]:
    """Run every session's plan at once; seconds taken and the timings. Paced, a pair's search and the pair are
    timed from when the pair was due, not from when it began: a pair that waits for its session's previous one
    (or for this process's event loop) counts its wait — no coordinated omission."""
    timings: Timings = {"search": [], "view": [], "pair": []}
    loop = asyncio.get_running_loop()

    async def session(number: int, plan: Plan) -> None:
        for at, atena in plan:
            due = started + at
            if paced and due > loop.time():
                await asyncio.sleep(due - loop.time())
            begun = due if paced else loop.time()
            searched, viewed = await pair(number, atena)
            timings["search"].append(searched - begun)
            timings["view"].append(viewed - searched)
            timings["pair"].append(viewed - begun)

    started = loop.time()
    await asyncio.gather(*(session(n, plan) for n, plan in enumerate(plans)))
    return loop.time() - started, timings


class RawReads:
    """The baseline: the same reads straight from asyncpg, one connection per session."""

    def __init__(self, ctx: BenchContext) -> None:
        self.url = ctx.platform.settings("counter").database_url.get_secret_value()

    async def __aenter__(self) -> RawReads:
        self.pool = await asyncpg.create_pool(self.url, min_size=SESSIONS, max_size=SESSIONS)
        self.connections = [await self.pool.acquire() for _ in range(SESSIONS)]
        return self

    async def __aexit__(self, *_: object) -> None:
        for conn in self.connections:
            await self.pool.release(conn)
        await self.pool.close()

    async def pair(self, session: int, atena: str) -> tuple[float, float]:
        conn, loop = self.connections[session], asyncio.get_running_loop()
        await conn.fetch("SELECT atena_number, name, name_kana, birth_date, sex FROM counter.person "
                         "WHERE atena_number = $1", atena)  # fmt: skip
        searched = loop.time()
        await conn.fetchrow("SELECT * FROM counter.person WHERE atena_number = $1", atena)
        await conn.fetch("SELECT * FROM counter.qualification_event WHERE atena_number = $1", atena)
        await conn.fetch("SELECT * FROM counter.income WHERE atena_number = $1", atena)
        return searched, loop.time()


class StaffSessions:
    """SESSIONS staff members signed in to the counter through the OIDC provider (httpx follows the same redirects
    as a browser), then searching and opening person pages with a 処理事由 — through the lean client
    (``light_http``) unless ``BENCH_COUNTER_CLIENT=httpx``."""

    def __init__(self, url: str, staff: dict[str, Any], client: str) -> None:
        self.url, self.staff, self.client = url, staff, client

    async def __aenter__(self) -> StaffSessions:
        # Idle connections are dropped long before the counter's keep-alive timeout (75 s) closes them.
        limits = httpx.Limits(keepalive_expiry=2)
        self.signed_in = [httpx.AsyncClient(timeout=60, limits=limits) for _ in range(SESSIONS)]
        self.forms = []
        for client in self.signed_in:
            csrf = await sign_in(client, self.url, self.staff)
            self.forms.append({"csrf_token": csrf, "reason_code": "03", "reason_text": "記録の確認 (bench)"})
        cookies = ["; ".join(f"{c.name}={c.value}" for c in client.cookies.jar) for client in self.signed_in]
        self.light = [LightClient(self.url, cookie) for cookie in cookies]
        return self

    async def __aexit__(self, *_: object) -> None:
        for client in self.signed_in:
            await client.aclose()
        for light in self.light:
            await light.aclose()

    async def _post(self, session: int, path: str, form: dict[str, str]) -> int:
        if self.client == "httpx":
            return (await self.signed_in[session].post(f"{self.url}{path}", data=form)).status_code
        status, _ = await self.light[session].post(path, form)
        return status

    async def pair(self, session: int, atena: str) -> tuple[float, float]:
        loop, form = asyncio.get_running_loop(), {**self.forms[session], "atena_number": atena}
        found = await self._post(session, "/search", form)
        searched = loop.time()
        page = await self._post(session, "/person", form)
        if found != 200 or page != 200:
            raise RuntimeError(f"search {found}, view {page} for {atena}")
        return searched, loop.time()


class Meter:
    """CPU time per pair of the counter's processes (all, and the service process alone), PostgreSQL's and this
    process's (the load generator), and the load average, over one measured run."""

    def __init__(self, counter: ServiceProcess | None, database: int | None) -> None:
        self.counter, self.database = counter, database

    def _now(self) -> tuple[float, float, float, float]:
        return (
            self.counter.cpu_seconds() if self.counter else 0.0,
            self.counter.cpu_seconds(children=False) if self.counter else 0.0,
            tree_cpu_seconds(self.database) if self.database else 0.0,
            client_cpu_seconds(),
        )

    def __enter__(self) -> Meter:
        self.before, self.load_before = self._now(), os.getloadavg()[0]
        return self

    def __exit__(self, *_: object) -> None:
        self.after, self.load_after = self._now(), os.getloadavg()[0]

    def per_pair(self, pairs: int) -> dict[str, Any]:
        spent = [(a - b) * 1000 / pairs for a, b in zip(self.after, self.before, strict=True)]
        counter, service, database, client = spent
        figures: dict[str, Any] = {"client_cpu_ms_per_pair": round(client, 2)}
        if self.counter:
            figures |= {
                "counter_cpu_ms_per_pair": round(counter, 2),
                "service_process_cpu_ms_per_pair": round(service, 2),
            }
        figures["database_cpu_ms_per_pair"] = round(database, 2) if self.database else None
        return figures | {"load_average_1min": [round(self.load_before, 1), round(self.load_after, 1)]}

    def line(self, pairs: int, what: str) -> str:
        f = self.per_pair(pairs)
        parts = []
        if self.counter:
            parts.append(f"counter {f['counter_cpu_ms_per_pair']:.2f} ms "
                         f"(service process {f['service_process_cpu_ms_per_pair']:.2f})")  # fmt: skip
        if f["database_cpu_ms_per_pair"] is not None:
            parts.append(f"PostgreSQL {f['database_cpu_ms_per_pair']:.2f} ms")
        parts.append(f"load generator {f['client_cpu_ms_per_pair']:.2f} ms")
        before, after = f["load_average_1min"]
        return f"  {what} CPU per pair: {', '.join(parts)}; load average {before} → {after}"


def print_latencies(label: str, timings: Timings, baseline: Timings) -> None:
    print(f"  {label}")
    for name in ("search", "view", "pair"):
        mine, raw = percentiles(name, timings[name]), percentiles(name, baseline[name])
        print(f"    {name:<6} counter p50 {mine[f'{name}_p50_ms']:>7.1f} ms  p95 {mine[f'{name}_p95_ms']:>7.1f} ms  "
              f"p99 {mine[f'{name}_p99_ms']:>7.1f} ms │ raw p50 {raw[f'{name}_p50_ms']:>6.1f} ms  "
              f"p95 {raw[f'{name}_p95_ms']:>6.1f} ms  p99 {raw[f'{name}_p99_ms']:>6.1f} ms")  # fmt: skip


def latency_notes(timings: Timings, baseline: Timings) -> dict[str, float]:
    return {
        **{k: v for name, values in timings.items() for k, v in percentiles(name, values).items()},
        **{k: v for name, values in baseline.items() for k, v in percentiles(f"raw_{name}", values).items()},
    }


@scenario("counter")
async def counter_inquiry(ctx: BenchContext) -> list[Figure]:
    count = int(os.environ.get("BENCH_COUNTER_PERSONS", PERSONS))
    rates = [float(r) for r in os.environ.get("BENCH_COUNTER_RATES", RATES).split(",") if r]
    paced_s = float(os.environ.get("BENCH_COUNTER_PACED_SECONDS", PACED_S))
    client = os.environ.get("BENCH_COUNTER_CLIENT", "light")
    seed_s = await seed(ctx, count)
    print(f"  seeded {count:,} persons in {seed_s:.1f} s", flush=True)
    database = await database_pid(ctx)
    saturation = saturation_plans(count)
    async with RawReads(ctx) as raw:
        with Meter(None, database) as raw_meter:
            baseline_s, baseline = await drive(raw.pair, saturation, paced=False)

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
    figures: list[Figure] = []
    pairs = 0
    try:
        async with httpx.AsyncClient() as probe:
            for _ in range(600):
                try:
                    if (await probe.get(f"{url}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        conn = await ctx.db("counter")
        try:
            logged_before = await conn.fetchval(LOGGED)
        finally:
            await conn.close()
        async with StaffSessions(url, localstack.DEMO_STAFF[0], client) as staff:
            # Warm-up (plans prepared, templates compiled in every worker): one pair per session, not measured.
            await drive(staff.pair, [plan[:1] for plan in saturation], paced=False)
            pairs += SESSIONS
            with Meter(counter, database) as meter:
                seconds, timings = await drive(staff.pair, saturation, paced=False)
            closed = SESSIONS * ROUNDS
            pairs += closed
            print(f"  saturation (closed loop: {SESSIONS} sessions × {ROUNDS} pairs, no pause): "
                  f"{closed / seconds:.1f} pairs/s beside raw {closed / baseline_s:.0f}/s")  # fmt: skip
            print_latencies("", timings, baseline)
            print(meter.line(closed, "counter"))
            print(raw_meter.line(closed, "raw reads"))
            figures.append(
                Figure("counter", f"{SESSIONS} sessions, closed loop", closed, seconds,
                       "raw asyncpg, same reads, 50 conn.", baseline_s, None, TARGET,
                       notes={"persons": count, "seed_s": round(seed_s, 1), "client": client,
                              **latency_notes(timings, baseline), **meter.per_pair(closed),
                              "raw": raw_meter.per_pair(closed), "counter_workers": int(env["COUNTER_WEB_WORKERS"])})
            )  # fmt: skip
            for rate in rates:
                plans = office_plans(rate, paced_s, count)
                offered = sum(len(plan) for plan in plans)
                async with RawReads(ctx) as raw:
                    with Meter(None, database) as raw_meter:
                        raw_s, raw_timings = await drive(raw.pair, plans, paced=True)
                with Meter(counter, database) as meter:
                    seconds, timings = await drive(staff.pair, plans, paced=True)
                pairs += offered
                print(f"  office pace {rate:g} pairs/s offered ({SESSIONS} sessions, Poisson, {paced_s:g} s: "
                      f"{offered} pairs; answered in {seconds:.1f} s)")  # fmt: skip
                print_latencies("", timings, raw_timings)
                print(meter.line(offered, "counter"))
                print(raw_meter.line(offered, "raw reads"))
                figures.append(
                    Figure("counter", f"paced {rate:g}/s, {SESSIONS} sessions", offered, seconds,
                           "raw asyncpg, same schedule", raw_s, None, f"{TARGET} at an office pace",
                           notes={"offered_pairs_per_s": rate, **latency_notes(timings, raw_timings),
                                  **meter.per_pair(offered), "raw": raw_meter.per_pair(offered)})
                )  # fmt: skip
    finally:
        counter.finish()
        oidc.stop()
    figures[0].rss_mb = counter.max_rss_mb
    conn = await ctx.db("counter")
    try:
        logged = await conn.fetchval(LOGGED) - logged_before
    finally:
        await conn.close()
    if logged != 2 * pairs:
        raise RuntimeError(f"the access log holds {logged} search/view rows for {2 * pairs} requests")
    figures[0].notes["access_log_rows_written"] = logged
    return figures
