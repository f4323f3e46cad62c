"""The stream end to end: 国外転入 through residency_sync → eligibility → transfer_dispatch, three processes.

Each published resident change becomes a person change, a 資格取得 (国民年金法7条1項1号) and a qualification
change kept by dispatch. Phases, each with fresh 宛名番号:
- light paced runs first, well under the chain's capacity (20/s, 100/s and 300/s; ``BENCH_PIPELINE_LIGHT``, e.g.
  ``100:10,300:10`` as rate:seconds at full scale): the latency floor when nothing queues, with each change's
  time split by hop (below);
- a burst of 20,000 changes published at once (throughput end to end);
- paced runs at 1,000/s and 5,000/s (latency: publish → dispatch's transaction that kept the change).

Before the phases, each service's CPU while idle (its consumers polling empty topics, its relay waiting) over
``BENCH_PIPELINE_IDLE_S`` seconds (10): what a lower latency floor must not cost.

The hops of a change, from the services' own rows (``now()`` of a transaction is its start): published → residency's
transaction (its inbox row) → the person change marked published by residency's relay (after the broker's ack) →
eligibility's transaction → the qualification change marked published → dispatch's transaction. A hop's
"consume" is the wait from the record being in Kafka (or published) to the next transaction's start — the fetch and
the batch's wait; its "apply + relay" the transaction, its commit, the relay's wake-up, send and ack.

Latency ends at the start of dispatch's batch transaction (``dispatch.inbox.received_at``, ``now()``): the commit
follows within that batch. Baseline, in the same run: a raw aiokafka consume→produce pass-through over three hops
of the burst's count of the same messages (three consumer groups, three producers, acks=all), timed from the first
publish once the hops have their partitions. CPU per event is each process's user +
system time over the phase, divided by the phase's events; beside it, the whole machine's CPU per event
(``machine_cpu_ms_per_event``: the services, the Kafka broker, PostgreSQL — its backends by service —, this
driver, other processes and idle; for the raw hops too), which says whether the services, the broker or the
database bound the rate; and PostgreSQL's own account per phase (``postgresql``: the top statements by time with
their calls, rows and buffers per event, every statement on an outbox, and what the phase did to the services' tables
— rows written, HOT updates, dead tuples, autovacuum runs, sizes, index scans; ``StatementProfile``, from
``pg_stat_statements``, which the benchmark's PostgreSQL loads). The report also counts the partitions on which a
service applied a delivery one message at a time (a redelivery, ADR 0005). Figures go to ``out/pipeline.json`` and
``out/pipeline.png`` (throughput and latency over time), the light runs' marks of each change to
``out/pipeline-marks.json``.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from harness import BenchContext, CpuLedger, Figure, ServiceProcess, StatementProfile, scenario, wait_until
from kokunen_common.database_setup import BY_SERVICE
from kokunen_contracts.envelope import cloudevent_headers
from kokunen_contracts.registry import PERSON_CHANGED, QUALIFICATION_CHANGED, RESIDENT_CHANGED, TopicSpec
from kokunen_contracts.residency import Address, ChangeReason
from kokunen_testing.factories import change, resident

BURST = 20_000
PACED = ((1_000, 10.0), (5_000, 4.0))
"""Offered rate (events/s) and how long each paced run lasts at full scale."""
LIGHT = os.environ.get("BENCH_PIPELINE_LIGHT", "20:10,100:10,300:10")
"""The light paced runs before the burst, ``rate:seconds`` at full scale (comma-separated; empty: none)."""
IDLE_S = float(os.environ.get("BENCH_PIPELINE_IDLE_S", "10"))
HOPS = (
    ("residency consume", "published", "residency"),
    ("residency apply + relay", "residency", "person sent"),
    ("eligibility consume", "person sent", "eligibility"),
    ("eligibility apply + relay", "eligibility", "qualification sent"),
    ("dispatch consume", "qualification sent", "dispatch"),
)
"""Each hop of a change: (name, from which mark, to which mark) — the marks ``Phase.marks`` keeps."""
SERVICES = ("residency_sync", "eligibility", "transfer_dispatch")
GROUPS = {
    "residency_sync": RESIDENT_CHANGED,
    "eligibility": PERSON_CHANGED,
    "transfer_dispatch": QUALIFICATION_CHANGED,
}
"""Each service's consumer group and the topic of the chain it reads."""
OUT = Path(__file__).resolve().parents[3] / "out"
TICK_S = 0.02


@dataclass
class Phase:
    name: str
    offered: float | None  # events/s; None: a burst
    atenas: list[str]
    light: bool = False
    event_ids: dict[str, str] = field(default_factory=dict)
    """Each 宛名番号's resident change (its event id, as residency's inbox keeps it)."""
    published_at: dict[str, float] = field(default_factory=dict)
    kept_at: dict[str, float] = field(default_factory=dict)
    cpu_s: dict[str, float] = field(default_factory=dict)
    cpu_ms: dict[str, float | None] = field(default_factory=dict)
    """The whole machine's CPU per event over the phase, by process (``CpuLedger.per_event``)."""
    seconds: float = 0.0
    load: str = ""
    database: dict[str, Any] = field(default_factory=dict)
    """PostgreSQL's statements and the services' tables over the phase (``StatementProfile.finish``)."""

    window: tuple[float, float] = (0.0, 0.0)
    """From the first publish to dispatch's last transaction (epoch seconds)."""
    per_transaction: dict[str, float] = field(default_factory=dict)
    """Messages per batch transaction, by service and topic of the chain (``messages_per_transaction``)."""
    marks: dict[str, dict[str, float]] = field(default_factory=dict)
    """Per 宛名番号, when its change reached each mark of ``HOPS`` (epoch seconds)."""

    def latencies_ms(self) -> list[float]:
        return sorted((self.kept_at[a] - self.published_at[a]) * 1000 for a in self.kept_at)

    def hops_ms(self) -> dict[str, dict[str, float | None]]:
        """p50/p95/p99 of each hop over the changes whose every mark is known."""
        complete = [m for m in self.marks.values() if all(mark in m for _, a, b in HOPS for mark in (a, b))]
        out: dict[str, dict[str, float | None]] = {}
        for name, start, end in HOPS:
            values = sorted((m[end] - m[start]) * 1000 for m in complete)
            out[name] = {f"p{int(q * 100)}": percentile(values, q) for q in (0.5, 0.95, 0.99)}
        return out


async def mark_hops(ctx: BenchContext, phase: Phase) -> None:
    """Fill ``phase.marks`` from the three services' inbox and outbox rows of the phase's changes."""
    marks: dict[str, dict[str, float]] = {
        a: {"published": phase.published_at[a], "dispatch": phase.kept_at[a]} for a in phase.kept_at
    }
    residency, eligibility = await ctx.db("residency_sync"), await ctx.db("eligibility")
    try:
        atena_of = {e: a for a, e in phase.event_ids.items()}
        for row in await residency.fetch(
            "SELECT message_key, extract(epoch FROM received_at)::float8 AS at FROM residency.inbox "
            "WHERE message_key = ANY($1::text[])",
            list(atena_of),
        ):
            marks.get(atena_of[row["message_key"]], {})["residency"] = row["at"]
        person_event: dict[str, str] = {}
        for schema, conn, topic, mark in (
            ("residency", residency, PERSON_CHANGED.name, "person sent"),
            ("eligibility", eligibility, QUALIFICATION_CHANGED.name, "qualification sent"),
        ):
            for row in await conn.fetch(
                f"SELECT message_key, event_id::text AS event_id, extract(epoch FROM published_at)::float8 AS at "
                f"FROM {schema}.outbox WHERE topic = $1 AND message_key = ANY($2::text[]) AND published_at IS NOT NULL",
                topic,
                list(marks),
            ):
                marks[row["message_key"]][mark] = row["at"]
                if schema == "residency":
                    person_event[row["event_id"]] = row["message_key"]
        for row in await eligibility.fetch(
            "SELECT message_key, extract(epoch FROM received_at)::float8 AS at FROM eligibility.inbox "
            "WHERE message_key = ANY($1::text[])",
            list(person_event),
        ):
            marks[person_event[row["message_key"]]]["eligibility"] = row["at"]
    finally:
        await residency.close()
        await eligibility.close()
    phase.marks = marks


async def messages_per_transaction(ctx: BenchContext, phase: Phase) -> None:
    """How many messages each batch transaction applied over the phase, per service and topic it read (an inbox
    row's ``received_at`` is its transaction's start): the batching the consumers got, which a prompter poll
    must not shrink at saturation."""
    for service, schema in (
        ("residency_sync", "residency"),
        ("eligibility", "eligibility"),
        ("transfer_dispatch", "dispatch"),
    ):
        conn = await ctx.db(service)
        try:
            for row in await conn.fetch(
                f"""SELECT topic, count(*)::float8 / count(DISTINCT received_at) AS per_transaction
                    FROM {schema}.inbox WHERE received_at BETWEEN to_timestamp($1) AND to_timestamp($2)
                    GROUP BY topic""",
                *phase.window,
            ):
                phase.per_transaction[f"{service} {row['topic']}"] = round(row["per_transaction"], 1)
        finally:
            await conn.close()


def moves_in(
    atenas: list[str], event_ids: dict[str, str] | None = None
) -> list[tuple[str, bytes, bytes, list[tuple[str, bytes]]]]:
    """A 国外転入 of an adult per 宛名番号, encoded as the upstream publishes it (key, value, headers); each
    change's event id goes to ``event_ids``."""
    encoded = []
    for atena in atenas:
        record = resident(
            atena,
            birth_date=date(1985, 6, 15),
            moved_in_from=Address(text="Paris", country_code="FR"),
        )
        event = change(ChangeReason.MOVE_IN_FROM_ABROAD, record, date(2026, 11, 2))
        headers = cloudevent_headers(event, source="/bench/jumin-kiroku")
        if event_ids is not None:
            event_ids[atena] = str(event.event_id)
        encoded.append((atena, RESIDENT_CHANGED.key_of(event).encode(), event.model_dump_json().encode(), headers))
    return encoded


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def publish(producer: AIOKafkaProducer, phase: Phase, messages: list[Any]) -> None:
    """Publish the phase's messages, at once or paced in ticks of ``TICK_S``; records each send time."""
    started = time.perf_counter()
    per_tick = len(messages) if phase.offered is None else max(1, round(phase.offered * TICK_S))
    futures = []
    for n in range(0, len(messages), per_tick):
        if phase.offered is not None:
            due = started + n / phase.offered
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
        sent_at = time.time()
        for atena, key, value, headers in messages[n : n + per_tick]:
            phase.published_at[atena] = sent_at
            futures.append(await producer.send(RESIDENT_CHANGED.name, value=value, key=key, headers=headers))
    await asyncio.gather(*futures)


async def lag(bootstrap: str, group: str, spec: TopicSpec) -> int:
    """Records of ``spec``'s topic not yet committed by ``group``."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
        ends = await consumer.end_offsets([TopicPartition(spec.name, p) for p in range(spec.partitions)])
        return sum(max(0, end - (committed[tp].offset if tp in committed else 0)) for tp, end in ends.items())
    finally:
        await consumer.stop()
        await admin.close()


async def raw_three_hops(bootstrap: str, messages: list[Any], partitions: int) -> float:
    """Seconds for ``messages`` to pass through three plain consume→produce hops (topics made for the run)."""
    run = uuid.uuid4().hex[:8]
    topics = [f"bench.raw-{run}.hop{n}" for n in range(4)]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        for topic in topics:
            response = await admin.create_topics([NewTopic(topic, partitions, 1)])
            errors = [e for e in getattr(response, "topic_errors", ()) if e[1]]
            if errors:
                raise RuntimeError(f"cannot create {topic}: {errors}")

        async def created() -> bool:
            return set(topics) <= set(await admin.list_topics())

        await wait_until(created, timeout_s=60, interval_s=0.2)
    finally:
        await admin.close()
    count = len(messages)
    assigned = [asyncio.Event() for _ in range(3)]

    async def hop(n: int) -> None:
        consumer = AIOKafkaConsumer(
            topics[n],
            bootstrap_servers=bootstrap,
            group_id=f"bench-raw-{run}-{n}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            max_poll_records=500,
        )
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
        await consumer.start()
        await producer.start()
        seen = 0
        try:
            while seen < count:
                batches = await consumer.getmany(timeout_ms=200, max_records=500)
                if consumer.assignment():
                    assigned[n].set()
                futures = []
                for records in batches.values():
                    for r in records:
                        futures.append(
                            await producer.send(topics[n + 1], value=r.value, key=r.key, headers=list(r.headers))
                        )
                    seen += len(records)
                await asyncio.gather(*futures)
                if batches:
                    await consumer.commit()
        finally:
            await producer.stop()
            await consumer.stop()

    # Like the services, the hops are running (group joined, partitions assigned) before the first publish: the
    # time runs from the first publish to the last record out of the third hop.
    hops = asyncio.gather(hop(0), hop(1), hop(2))
    await asyncio.wait_for(asyncio.gather(*(a.wait() for a in assigned)), timeout=300)
    started = time.perf_counter()
    source = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await source.start()
    try:
        futures = [await source.send(topics[0], value=v, key=k, headers=h) for _, k, v, h in messages]
        await asyncio.gather(*futures)
    finally:
        await source.stop()
    await hops
    return time.perf_counter() - started


async def applied_one_at_a_time(ctx: BenchContext, service: str) -> int:
    """Partitions on which the service applied a delivery one message at a time (Kafka delivered it again before
    it completed: ADR 0005), over the whole run."""
    conn = await ctx.db(service)
    try:
        schema = BY_SERVICE[service].schema
        return int(
            await conn.fetchval(f"SELECT count(*) FROM {schema}.delivery_attempt WHERE suspect_offset IS NOT NULL")
        )
    finally:
        await conn.close()


def chart(phases: list[Phase], path: Path) -> None:
    """Per phase, over time since its first publish: events published and kept by dispatch per bucket, and the
    latency of each event by when dispatch kept it (with p50/p99 per bucket)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(phases), figsize=(5 * len(phases), 7), squeeze=False)
    for column, phase in enumerate(phases):
        if not phase.kept_at:
            continue
        origin = min(phase.published_at.values())
        end = max(phase.kept_at.values()) - origin
        width = max(0.1, end / 60)  # seconds per bucket

        def per_bucket(times: list[float], width: float = width, end: float = end) -> tuple[list[float], list[float]]:
            counts = [0] * (int(end / width) + 1)
            for t in times:
                counts[min(len(counts) - 1, int(t / width))] += 1
            return [n * width for n in range(len(counts))], [c / width for c in counts]

        top = axes[0][column]
        for times, label, colour in (
            ([t - origin for t in phase.published_at.values()], "published", "tab:gray"),
            ([t - origin for t in phase.kept_at.values()], "kept by dispatch", "tab:blue"),
        ):
            xs, ys = per_bucket(times)
            top.step(xs, ys, where="post", label=label, color=colour)
        top.set_title(f"{phase.name}: events per second")
        top.set_xlabel("s since the first publish")
        top.legend()
        bottom = axes[1][column]
        # x: when dispatch kept the event (a burst is published at once: by publish time it is one column).
        sent = [(at - origin, (at - phase.published_at[a]) * 1000) for a, at in phase.kept_at.items()]
        bottom.scatter([x for x, _ in sent], [y for _, y in sent], s=2, alpha=0.3, color="tab:gray", label="each event")
        buckets: dict[int, list[float]] = {}
        for x, y in sent:
            buckets.setdefault(int(x / width), []).append(y)
        keys = sorted(buckets)
        for q, colour in ((0.5, "tab:green"), (0.99, "tab:red")):
            bottom.plot(
                [k * width for k in keys],
                [percentile(sorted(buckets[k]), q) for k in keys],
                "o-",
                markersize=3,
                label=f"p{int(q * 100)}",
                color=colour,
            )
        bottom.set_yscale("log")
        bottom.set_title(f"{phase.name}: latency by time kept (ms)")
        bottom.set_xlabel("s since the first publish")
        bottom.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


@scenario("pipeline")
async def pipeline(ctx: BenchContext) -> list[Figure]:
    bootstrap = ctx.platform.bootstrap
    serial = int(time.time()) * 100_000  # fresh 宛名番号 (15 digits) for each run
    phases: list[Phase] = []

    def new_phase(name: str, offered: float | None, count: int, *, light: bool = False) -> Phase:
        nonlocal serial
        atenas = [str(serial + n) for n in range(count)]
        serial += count
        phase = Phase(name, offered, atenas, light=light)
        phases.append(phase)
        return phase

    for part in filter(None, (p.strip() for p in LIGHT.split(","))):
        rate, seconds = (float(v) for v in part.split(":"))
        new_phase(f"light {rate:g}/s", rate, ctx.scaled(int(rate * seconds)), light=True)
    burst = new_phase("burst", None, ctx.scaled(BURST))
    for rate, seconds in PACED:
        new_phase(f"paced {rate}/s", rate, ctx.scaled(int(rate * seconds)))
    warm = Phase("warm-up", None, [str(serial + n) for n in range(50)])

    services = {name: ServiceProcess(ctx, name).start() for name in SERVICES}
    ledger = await CpuLedger.open(ctx, services, {BY_SERVICE[name].app_role: name for name in SERVICES})
    profile = await StatementProfile.open(ctx, {BY_SERVICE[name].schema: name for name in SERVICES})
    dispatch = await ctx.db("transfer_dispatch")
    await dispatch.execute("SET application_name = 'bench'")  # its backend's CPU is the driver's, not dispatch's
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        # What dispatch kept since the last look (its arrival order), not a search for every missing 宛名番号:
        # that search cost PostgreSQL more CPU per event than dispatch's own statements. ``received_at`` is
        # now() of the transaction that kept the change, as its inbox row's.
        newest = {"arrival": 0}
        searched_at = {"t": time.monotonic()}
        phase_of: dict[str, Phase] = {}

        async def collect(phase: Phase) -> bool:
            if not phase_of or phase.atenas[0] not in phase_of:
                phase_of.update(dict.fromkeys(phase.atenas, phase))
            rows = await dispatch.fetch(
                """SELECT arrival, atena_number, extract(epoch FROM received_at)::float8 AS at
                   FROM dispatch.qualification_change WHERE arrival > $1""",
                newest["arrival"],
            )
            if not rows and len(phase.kept_at) < len(phase.atenas) and time.monotonic() - searched_at["t"] > 5:
                searched_at["t"] = time.monotonic()
                # Nothing new: a transaction that took its arrival numbers before one committed earlier may have
                # committed behind the mark — look for what is still missing, at most every 5 s.
                rows = await dispatch.fetch(
                    """SELECT 0 AS arrival, atena_number, extract(epoch FROM received_at)::float8 AS at
                       FROM dispatch.qualification_change WHERE atena_number = ANY($1::text[])""",
                    [a for a in phase.atenas if a not in phase.kept_at],
                )
            for row in rows:
                newest["arrival"] = max(newest["arrival"], row["arrival"])
                kept_in = phase_of.get(row["atena_number"])
                if kept_in is not None:
                    kept_in.kept_at.setdefault(row["atena_number"], row["at"])
            return len(phase.kept_at) == len(phase.atenas)

        # Warm up (connections, assignments), then let any backlog of earlier scenarios drain.
        await publish(producer, warm, moves_in(warm.atenas))
        await wait_until(lambda: collect(warm), timeout_s=600, interval_s=0.5)

        async def idle() -> bool:
            lags = [await lag(bootstrap, group, spec) for group, spec in GROUPS.items()]
            return not any(lags)

        await wait_until(idle, timeout_s=1800, interval_s=1.0)
        # Each service's CPU while the chain is idle: its consumers' empty polls and its relay's wake-ups.
        idle_before = {name: p.cpu_seconds() for name, p in services.items()}
        idle_load = load()
        await asyncio.sleep(IDLE_S)
        idle_cpu_ms_per_s = {
            name: (p.cpu_seconds() - idle_before[name]) * 1000 / IDLE_S for name, p in services.items()
        }
        print(f"  idle CPU ms/s over {IDLE_S:g} s: {idle_cpu_ms_per_s} (load {idle_load})", flush=True)

        for phase in phases:
            messages = moves_in(phase.atenas, phase.event_ids)
            loadavg = load()
            before = {name: p.cpu_seconds() for name, p in services.items() if p.process}
            machine_before = await ledger.snapshot()
            await profile.start()
            started = time.time()
            await asyncio.gather(
                publish(producer, phase, messages),
                # Latencies are dispatch's commit times, not when this loop saw them: it may look once a second.
                wait_until(lambda phase=phase: collect(phase), timeout_s=1800, interval_s=1.0),
            )
            phase.seconds = max(phase.kept_at.values()) - started
            phase.window = (started, max(phase.kept_at.values()))
            phase.cpu_s = {name: p.cpu_seconds() - before[name] for name, p in services.items() if p.process}
            phase.cpu_ms = CpuLedger.per_event(machine_before, await ledger.snapshot(), len(phase.atenas))
            phase.database = await profile.finish(len(phase.atenas))
            print(f"  {phase.name}: {len(phase.atenas)} in {phase.seconds:.1f} s (load {loadavg})", flush=True)
            phase.load = loadavg
        one_at_a_time = {name: await applied_one_at_a_time(ctx, name) for name in SERVICES}
        for phase in phases:
            if phase.offered is not None:
                await mark_hops(ctx, phase)
            await messages_per_transaction(ctx, phase)
    finally:
        await producer.stop()
        await dispatch.close()
        for p in services.values():
            p.finish()

    partitions = RESIDENT_CHANGED.partitions
    raw_messages = moves_in([str(serial + n) for n in range(len(burst.atenas))])
    raw_load = load()
    raw_before = await ledger.snapshot()
    raw_s = await raw_three_hops(bootstrap, raw_messages, partitions)
    raw_cpu_ms = CpuLedger.per_event(raw_before, await ledger.snapshot(), len(raw_messages))

    report: dict[str, Any] = {
        "scale": ctx.scale,
        "raw_three_hops": {
            "count": len(raw_messages),
            "seconds": raw_s,
            "rate": len(raw_messages) / raw_s,
            "machine_cpu_ms_per_event": raw_cpu_ms,
        },
        "raw_load": raw_load,
        "peak_rss_mb": {name: p.max_rss_mb for name, p in services.items()},
        "partitions_redelivered_one_at_a_time": one_at_a_time,
        "idle_cpu_ms_per_s": {"seconds": IDLE_S, "load": idle_load, **idle_cpu_ms_per_s},
        "phases": [],
    }
    figures: list[Figure] = []
    rss_max = max((p.max_rss_mb or 0) for p in services.values())
    for phase in phases:
        latencies = phase.latencies_ms()
        count = len(phase.atenas)
        summary = {
            "phase": phase.name,
            "offered_per_s": phase.offered,
            "count": count,
            "seconds": phase.seconds,
            "rate": count / phase.seconds if phase.seconds else None,
            "latency_ms": {
                "p50": percentile(latencies, 0.5),
                "p95": percentile(latencies, 0.95),
                "p99": percentile(latencies, 0.99),
                "max": latencies[-1] if latencies else None,
                "mean": statistics.fmean(latencies) if latencies else None,
            },
            "hops_ms": phase.hops_ms() if phase.marks else None,
            "messages_per_transaction": phase.per_transaction,
            "cpu_ms_per_event": {name: s * 1000 / count for name, s in phase.cpu_s.items()},
            "machine_cpu_ms_per_event": phase.cpu_ms,
            "load": phase.load,
            "postgresql": phase.database,
        }
        report["phases"].append(summary)
        lat = summary["latency_ms"]
        cpu = ", ".join(f"{name.split('_')[0]} {ms:.2f}" for name, ms in summary["cpu_ms_per_event"].items())
        figures.append(
            Figure(
                "pipeline",
                f"{phase.name} end to end",
                count,
                phase.seconds,
                "raw aiokafka 3 hops",
                raw_s * count / len(raw_messages),  # the raw rate, as seconds for this phase's count
                rss_max,
                target=(
                    "≥ 5,000/s, ≥ 50 % of raw"
                    if phase.offered is None
                    else "latency floor, not saturated"
                    if phase.light
                    else "p99 ≤ 250 ms at 1,000/s"
                ),
                notes={
                    "p50_ms": lat["p50"],
                    "p95_ms": lat["p95"],
                    "p99_ms": lat["p99"],
                    "cpu_ms_per_event": cpu,
                    "machine_cpu_ms_per_event": CpuLedger.describe(phase.cpu_ms),
                    "load": summary["load"],
                },
            )
        )
        print(
            f"  {phase.name}: p50 {lat['p50']:.0f} ms, p95 {lat['p95']:.0f} ms, p99 {lat['p99']:.0f} ms; "
            f"CPU ms/event {cpu}",
            flush=True,
        )
        print(f"    whole machine, CPU ms/event: {CpuLedger.describe(phase.cpu_ms)}", flush=True)
        print(f"    messages per batch transaction: {phase.per_transaction}", flush=True)
        if summary["hops_ms"]:
            hops = "; ".join(
                f"{name} {h['p50']:.0f}/{h['p95']:.0f}/{h['p99']:.0f}"
                for name, h in summary["hops_ms"].items()
                if h["p50"] is not None and h["p95"] is not None and h["p99"] is not None
            )
            print(f"    hops, p50/p95/p99 ms: {hops}", flush=True)
        print(f"    PostgreSQL {StatementProfile.describe(phase.database)}", flush=True)
    print(f"  peak RSS MB: {report['peak_rss_mb']}; raw 3 hops {len(raw_messages) / raw_s:.0f}/s (load {raw_load})")
    print(f"    raw 3 hops, whole machine, CPU ms/event: {CpuLedger.describe(raw_cpu_ms)}")
    print(f"  partitions with a delivery applied one message at a time: {one_at_a_time}")
    OUT.mkdir(exist_ok=True)
    (OUT / "pipeline.json").write_text(json.dumps(report, ensure_ascii=False, indent=2))
    chart(phases, OUT / "pipeline.png")
    # Each change's marks in the light runs (ms since the run's first publish), to look at the hops one by one.
    (OUT / "pipeline-marks.json").write_text(
        json.dumps(
            {
                phase.name: [
                    {mark: round((at - min(phase.published_at.values())) * 1000, 1) for mark, at in m.items()}
                    for m in phase.marks.values()
                ]
                for phase in phases
                if phase.light
            }
        )
    )
    return figures
