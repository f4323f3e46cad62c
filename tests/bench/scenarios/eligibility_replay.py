"""Eligibility rebuilt from the topics: the replay of 1,300,000 residents' changes into an empty eligibility slice.

One change per resident of the city (``MIX``: 80 % ``registered`` as a full extract registers them, 10 % 国内転入,
10 % 国外転入; ages 0–95, some foreign residents with a 在留資格), produced straight onto
``residency.person-changed.v1`` in large batches; then
``kokunen-admin replay --service eligibility`` as its own process, from start to exit: the slice emptied, every
topic eligibility reads merged in timestamp order and applied through its own consumer path (contract checks,
inbox, the per-person rules, outbox), the outbox rows marked published. Baseline, in the same run: a plain
aiokafka consumer group reading the same person-changed topic from its beginning.

    BENCH_ONLY=eligibility-replay BENCH_SCALE=0.1 make bench     # 130,000 residents
    BENCH_REPLAY_RESIDENTS=50000 BENCH_ONLY=eligibility-replay make bench
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import murmur2
from harness import (
    BenchContext,
    Figure,
    ServiceProcess,
    _vm_hwm_kb,
    database_pid,
    raw_consume,
    scenario,
    tree_cpu_seconds,
    wait_until,
)
from kokunen_contracts.envelope import cloudevent_headers
from kokunen_contracts.registry import PERSON_CHANGED, TopicSpec
from kokunen_contracts.residency import PersonChangeKind, ResidenceStatus
from kokunen_testing.factories import person_changed

from scenarios.pipeline import load

FULL = 1_300_000
JST = timezone(timedelta(hours=9))
TEMPLATES = 1024
ATENA_MARK = "999999999999999"  # replaced in each encoded template by the resident's 宛名番号
HOUSEHOLD_MARK = "888888888888888"
ID_MARK = uuid.UUID("00000000-0000-4000-8000-00000000abcd")


MIX = (
    (PersonChangeKind.REGISTERED, 0.8),
    (PersonChangeKind.MOVED_IN_DOMESTIC, 0.1),
    (PersonChangeKind.MOVED_IN_FROM_ABROAD, 0.1),
)
"""What the residents' changes are: most as a full extract registers them, some 転入 from elsewhere in Japan and
some from abroad (an adult's 国外転入 is a 資格取得, 国民年金法7条1項1号, announced with its JPS report)."""


def resident_changes(
    count: int,
    *,
    first_atena: int,
    seed: int = 1300,
    mix: Sequence[tuple[PersonChangeKind, float]] = MIX,
    ages: tuple[int, int] = (0, 95),
) -> Iterator[tuple[bytes, bytes, list[Any]]]:
    """(key, value, headers) of one person change per resident, as residency_sync publishes them.

    A thousand templates (kinds drawn from ``mix``, birth dates spread over ``ages``, 3 % foreign residents with
    a 在留資格) are encoded once; each resident's record splices its 宛名番号, 世帯番号 and event id into one of
    them, which keeps the generation of 1.3 M records to seconds rather than minutes of pydantic."""
    rnd = random.Random(seed)
    today = date(2026, 11, 1)
    recorded = datetime(2026, 11, 1, 9, 0, tzinfo=JST)
    templates: list[tuple[str, list[tuple[str, bytes]]]] = []
    statuses = (ResidenceStatus(status="永住者"), ResidenceStatus(status="技術・人文知識・国際業務"))
    kinds, weights = zip(*mix, strict=True)
    for _ in range(TEMPLATES):
        foreign = rnd.random() < 0.03
        event = person_changed(
            ATENA_MARK,
            rnd.choices(kinds, weights)[0],
            today,
            birth=today - timedelta(days=rnd.randint(ages[0] * 365, ages[1] * 365)),
            nationality="CN" if foreign else "JP",
            residence_status=rnd.choice(statuses) if foreign else None,
            event_id=ID_MARK,
        ).model_copy(update={"household_number": HOUSEHOLD_MARK, "recorded_at": recorded})
        body = event.model_dump_json()
        assert body.count(ATENA_MARK) == 1, "the 宛名番号 mark appears elsewhere"
        assert body.count(str(ID_MARK)) == 1, "the event id mark appears elsewhere"
        templates.append((body, cloudevent_headers(event, source="/kokunen/residency_sync")))
    id_header = str(ID_MARK).encode()
    for n in range(count):
        atena = f"{first_atena + n:015d}"
        event_id = str(uuid.uuid4())
        body, headers = templates[n % TEMPLATES]
        value = body.replace(ATENA_MARK, atena).replace(HOUSEHOLD_MARK, atena[::-1]).replace(str(ID_MARK), event_id)
        encoded_id = event_id.encode()
        yield (
            atena.encode(),
            value.encode(),
            [(k, encoded_id if v == id_header else v) for k, v in headers],
        )


async def produce(
    bootstrap: str, topic: str, partitions: int, records: Iterator[tuple[bytes, bytes, list[Any]]]
) -> int:
    """Produce ``records`` with the default partitioner's choice of partition (murmur2 of the key), a batch of
    up to 1 MiB per partition at a time rather than one send per record; how many were produced."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=20)
    await producer.start()
    count = 0
    try:
        batches: dict[int, Any] = {}
        futures = []

        async def send(partition: int) -> None:
            futures.append(await producer.send_batch(batches.pop(partition), topic, partition=partition))

        for key, value, headers in records:
            partition = (murmur2(key) & 0x7FFFFFFF) % partitions
            batch = batches.get(partition) or batches.setdefault(partition, producer.create_batch())
            if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                await send(partition)
                batch = batches[partition] = producer.create_batch()
                batch.append(key=key, value=value, timestamp=None, headers=headers)
            count += 1
            if len(futures) > 64:
                await futures.pop(0)
        for partition in list(batches):
            await send(partition)
        for future in futures:
            await future
    finally:
        await producer.stop()
    return count


async def past_the_end(bootstrap: str, spec: TopicSpec) -> None:
    """Every group that reads ``spec``'s topic starts past what is on it now: the replay's records are not a stream
    for the services that later scenarios run (a group never seen would otherwise read them all from the first)."""
    for group in spec.consumers:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
        await consumer.start()
        try:
            partitions = [TopicPartition(spec.name, p) for p in range(spec.partitions)]
            consumer.assign(partitions)
            await consumer.commit(await consumer.end_offsets(partitions))
        finally:
            await consumer.stop()


async def records_on(bootstrap: str, topic: str, partitions: int) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        ends = await consumer.end_offsets(tps)
        starts = await consumer.beginning_offsets(tps)
        return sum(ends[tp] - starts[tp] for tp in tps)
    finally:
        await consumer.stop()


def replay_process(ctx: BenchContext) -> tuple[float, float, float, str]:
    """``kokunen-admin replay --service eligibility`` as its own process: seconds, CPU seconds, peak RSS MB, output."""
    env = {**os.environ, **ctx.platform.service_env("eligibility"), "LOG_LEVEL": "WARNING"}
    log = ctx.workdir / "eligibility-replay.log"
    # BENCH_PROFILE=1: the replay runs under cProfile, its profile written beside its log.
    profile = ["-m", "cProfile", "-o", str(log.with_suffix(".prof"))] if os.environ.get("BENCH_PROFILE") else []
    started = time.perf_counter()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, *profile, "-m", "kokunen_common.platform", "replay", "--service", "eligibility"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        peak_kb = 0
        while True:
            peak_kb = max(peak_kb, _vm_hwm_kb(process.pid))
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.05)
    seconds = time.perf_counter() - started
    output = log.read_text()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"replay failed:\n{output[-3000:]}")
    return seconds, usage.ru_utime + usage.ru_stime, (peak_kb or usage.ru_maxrss) / 1024, output.strip()


async def drain_outbox(ctx: BenchContext) -> None:
    """Replay refuses while eligibility's outbox holds unpublished events (an earlier scenario's): mark a bench
    leftover published only after saying so."""
    conn = await ctx.db("eligibility")
    try:
        pending = await conn.fetchval("SELECT count(*) FROM eligibility.outbox WHERE published_at IS NULL")
    finally:
        await conn.close()
    if pending:
        service = ServiceProcess(ctx, "eligibility").start()

        async def drained() -> bool:
            conn = await ctx.db("eligibility")
            try:
                return not await conn.fetchval("SELECT count(*) FROM eligibility.outbox WHERE published_at IS NULL")
            finally:
                await conn.close()

        await wait_until(drained, timeout_s=600, interval_s=0.5)
        service.finish()


@scenario("eligibility-replay")
async def eligibility_replay(ctx: BenchContext) -> list[Figure]:
    count = int(os.environ.get("BENCH_REPLAY_RESIDENTS", ctx.scaled(FULL)))
    bootstrap = ctx.platform.bootstrap
    first_atena = int(time.time()) * 100_000  # fresh 宛名番号 (15 digits) for each run
    started = time.perf_counter()
    produced = await produce(
        bootstrap,
        PERSON_CHANGED.name,
        PERSON_CHANGED.partitions,
        resident_changes(count, first_atena=first_atena),
    )
    produce_s = time.perf_counter() - started
    print(f"  {produced:,} person changes generated and produced in {produce_s:.1f} s", flush=True)
    await past_the_end(bootstrap, PERSON_CHANGED)
    on_topic = await records_on(bootstrap, PERSON_CHANGED.name, PERSON_CHANGED.partitions)

    baseline = await raw_consume(bootstrap, PERSON_CHANGED.name, on_topic, group=f"bench-raw-{uuid.uuid4().hex[:8]}")
    await drain_outbox(ctx)
    loadavg = load()
    postgres = await database_pid(ctx)
    postgres_before = tree_cpu_seconds(postgres) if postgres else 0.0
    seconds, cpu_s, rss_mb, output = replay_process(ctx)
    postgres_s = tree_cpu_seconds(postgres) - postgres_before if postgres else None
    loadavg = f"{loadavg} → {load()}"
    print(f"  {output.splitlines()[-1] if output else ''} (load {loadavg})", flush=True)
    print(
        f"  replay process: {cpu_s:.1f} s CPU, peak RSS {rss_mb:.0f} MB; PostgreSQL "
        + (f"{postgres_s:.1f} s CPU" if postgres_s is not None else "not counted (elsewhere)"),
        flush=True,
    )
    conn = await ctx.db("eligibility")
    try:
        persons = await conn.fetchval(
            "SELECT count(*) FROM eligibility.person WHERE atena_number BETWEEN $1 AND $2",
            f"{first_atena:015d}",
            f"{first_atena + count - 1:015d}",
        )
        versions = await conn.fetchval("SELECT count(*) FROM eligibility.qualification_version")
        records = await conn.fetchval("SELECT count(*) FROM eligibility.inbox")
    finally:
        await conn.close()
    if persons != count:
        raise AssertionError(f"the replay rebuilt {persons} of the {count} residents")
    return [
        Figure(
            "eligibility-replay",
            "replay → empty eligibility slice",
            records,
            seconds,
            "raw consume of person-changed",
            baseline * records / on_topic,
            rss_mb,
            target="≥ 20,000/s",
            notes={
                "residents": count,
                "records_on_person_changed": on_topic,
                "qualification_versions": versions,
                "cpu_ms_per_record": cpu_s * 1000 / records,
                "postgresql_cpu_ms_per_record": postgres_s * 1000 / records if postgres_s is not None else None,
                "generate_and_produce_s": produce_s,
                "load": loadavg,
            },
        )
    ]
