"""Replay: rebuild a service's slice from the retained topics (``make replay SERVICE=…``).

1. Refuse while the service's outbox still has unpublished events (they would be lost with the slice).
2. Empty the slice (as the schema's owner), except the tables that record what the service did and no
   topic holds (sent batches, the transfer log, the scheduler's watermark): ``kept_on_replay``.
3. Read every topic the service consumes from the beginning up to the end offsets seen at the start,
   merged in record-timestamp order (Kafka orders each partition, not topics against each other; the
   merge comes close to the order the service originally saw), and apply each run of records through
   the service's own consumer path — contract checks, inbox, handlers, outbox — as live: a batch handler
   applies the run set-based, as it applies a polled batch (ADR 0007). One span per run rather than per
   message, and the next run is decoded while the database applies this one (``apply_runs``).
4. Mark the outbox rows the replay wrote as published: their events went out when they first happened,
   and every id is derived from its cause, so they are the same events.

Ids derived from causes (``kokunen_common.ids``) are what make the rebuilt slice equal to the original.
"""

from __future__ import annotations

import asyncio
import collections
import heapq
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from kokunen_contracts.registry import BY_NAME

from .logs import get_logger
from .messaging import Decoded, decode_record, kafka_client_kwargs
from .service import ServiceRuntime, settle_heap

log = get_logger(__name__)
RUN_LENGTH = 2000
"""Records applied as one batch (one transaction): four times a live poll's, so each batch's statements are spread
over more records (5,000 gained little more CPU and cost 60 MB of peak RSS)."""
FETCH_RECORDS = 1000
"""Records taken from the fetched buffers at once (unpacking them holds the event loop)."""
YIELD_EVERY = 50
"""Records merged or decoded between two turns of the event loop: the run being applied waits at most that long
for an answered statement (~1.5 ms)."""


class ReplayRefused(RuntimeError):
    """The slice cannot be rebuilt safely now (the message says why)."""


@dataclass(frozen=True)
class ReplayReport:
    service: str
    topics: tuple[str, ...]
    records: int
    seconds: float
    tables_emptied: tuple[str, ...]


async def replay(runtime: ServiceRuntime, owner_url: str, *, settle: bool = False) -> ReplayReport:
    """``settle``: the process is the replay's own (``kokunen-admin replay``): tune its garbage collector as a
    running service's (``settle_heap``) once started."""
    started = time.perf_counter()
    schema = runtime.schema
    owner = await asyncpg.connect(owner_url)
    try:
        pending = await owner.fetchval(f"SELECT count(*) FROM {schema}.outbox WHERE published_at IS NULL")
        if pending:
            raise ReplayRefused(f"{pending} event(s) in {schema}.outbox are not published yet: let the relay finish")
        tables = [
            r["tablename"]
            for r in await owner.fetch("SELECT tablename FROM pg_tables WHERE schemaname = $1", schema)
            if r["tablename"] not in ("alembic_version", *runtime.definition.kept_on_replay)
        ]
        if tables:
            await owner.execute(f"TRUNCATE {', '.join(f'{schema}.{t}' for t in tables)} RESTART IDENTITY")
        watermark = await owner.fetchval(f"SELECT coalesce(max(id), 0) FROM {schema}.outbox")
    finally:
        await owner.close()

    topics = [spec.name for spec, _ in runtime.consumer.subscriptions]
    await runtime.start(consumers=False, relay=False)
    if settle:
        settle_heap()  # as a running service does: the runs allocate millions of short-lived objects
    try:
        count = await apply_runs(runtime, merged_runs(runtime, topics))
    finally:
        await runtime.stop()

    owner = await asyncpg.connect(owner_url)
    try:
        await owner.execute(
            f"UPDATE {schema}.outbox SET published_at = now() WHERE id > $1 AND published_at IS NULL", watermark
        )
    finally:
        await owner.close()
    report = ReplayReport(runtime.name, tuple(topics), count, round(time.perf_counter() - started, 1), tuple(tables))
    log.info("replay done", service=report.service, records=report.records, seconds=report.seconds)
    return report


Run = list[ConsumerRecord[bytes, bytes]]


async def apply_runs(runtime: ServiceRuntime, runs: AsyncIterator[Run]) -> int:
    """Apply each run (records of one topic, in order) through the service's consumer path (``apply_batch``: contract
    checks, inbox, the subscription's handler — its ``finish_batch`` for a batch handler —, outbox), as the stream
    path applies a polled batch; how many records. The next run is read and checked against its contract while the
    database applies this one: on two cores the replay's Python and PostgreSQL work at the same time instead of
    taking turns. One span per run, not per message: the replay publishes nothing (its outbox rows are marked
    published afterwards), so no event's trace continues from here."""
    handlers = {spec.name: handler for spec, handler in runtime.consumer.subscriptions}
    ahead: asyncio.Queue[tuple[Run, list[Decoded]] | None] = asyncio.Queue(maxsize=1)
    reader = asyncio.create_task(_read_ahead(runs, ahead))
    count = 0
    try:
        while (item := await ahead.get()) is not None:
            run, decoded = item
            spec = BY_NAME[run[0].topic]
            await runtime.consumer.apply_batch(spec, handlers[spec.name], run, decoded=decoded, span_per_message=False)
            count += len(run)
        await reader  # its failure, if any
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    return count


async def _read_ahead(runs: AsyncIterator[Run], ahead: asyncio.Queue[tuple[Run, list[Decoded]] | None]) -> None:
    """Each run with its records decoded, a slice at a time (the applier's statements are answered meanwhile), onto
    ``ahead``; None at the end, also after a failure (awaiting the task raises it)."""
    try:
        async for run in runs:
            spec = BY_NAME[run[0].topic]
            decoded: list[Decoded] = []
            for start in range(0, len(run), YIELD_EVERY):
                decoded += [decode_record(spec, r) for r in run[start : start + YIELD_EVERY]]
                await asyncio.sleep(0)
            await ahead.put((run, decoded))
    except Exception:
        await ahead.put(None)
        raise
    await ahead.put(None)


async def merged_runs(runtime: ServiceRuntime, topics: Sequence[str]) -> AsyncIterator[Run]:
    """Every record of ``topics`` up to today's end offsets, in timestamp order, as runs of one topic."""
    # No group and "earliest": a reset racing the explicit seek below must still land on the first record.
    consumer = AIOKafkaConsumer(
        **kafka_client_kwargs(runtime.settings), enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(t, p) for t in topics for p in range(BY_NAME[t].partitions)]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        # seek() to the known first offsets, not seek_to_beginning(): that one only asks for a lazy reset.
        for tp, first in (await consumer.beginning_offsets(partitions)).items():
            consumer.seek(tp, first)
        live = {tp for tp in partitions if ends[tp] > 0}
        buffers: dict[TopicPartition, collections.deque[ConsumerRecord[bytes, bytes]]] = {
            tp: collections.deque() for tp in live
        }
        # The head of each live partition that has one, by (timestamp, topic, partition): a heap, not a scan of
        # every partition per record.
        heads: list[tuple[int, str, int, TopicPartition]] = []
        waiting = set(live)  # live partitions whose head is not on the heap
        run: Run = []
        while live:
            # A head from every live partition before choosing, or the merge could run ahead of one.
            for tp in [tp for tp in waiting if not buffers[tp]]:
                if await consumer.position(tp) >= ends[tp]:
                    live.discard(tp)  # read to its end (the last offsets may be markers, not records)
                    waiting.discard(tp)
            if any(not buffers[tp] for tp in waiting):
                fetched = await consumer.getmany(timeout_ms=1000, max_records=FETCH_RECORDS)
                for tp, records in fetched.items():
                    buffers[tp].extend(r for r in records if r.offset < ends[tp])
                continue
            for tp in waiting:
                heapq.heappush(heads, (buffers[tp][0].timestamp, tp.topic, tp.partition, tp))
            waiting.clear()
            if not heads:
                break
            tp = heapq.heappop(heads)[3]
            record = buffers[tp].popleft()
            if buffers[tp]:
                heapq.heappush(heads, (buffers[tp][0].timestamp, tp.topic, tp.partition, tp))
            else:
                waiting.add(tp)
            if run and (run[0].topic != record.topic or len(run) >= RUN_LENGTH):
                yield run
                run = []
            run.append(record)
            if len(run) % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # let the applier's answered statements go on
        if run:
            yield run
    finally:
        await consumer.stop()
