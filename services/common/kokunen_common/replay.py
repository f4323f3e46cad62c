"""Replay: rebuild a service's slice from the retained topics (``make replay SERVICE=…``).

1. Refuse while the service's outbox still has unpublished events (they would be lost with the slice).
2. Empty the slice (as the schema's owner), except the tables that record what the service did and no
   topic holds (sent batches, the transfer log, the scheduler's watermark): ``kept_on_replay``.
3. Read every topic the service consumes from the beginning up to the end offsets seen at the start,
   merged in record-timestamp order (Kafka orders each partition, not topics against each other; the
   merge comes close to the order the service originally saw), and apply each run of records through
   the service's own consumer path — contract checks, inbox, handlers, outbox — exactly as live.
4. Mark the outbox rows the replay wrote as published: their events went out when they first happened,
   and every id is derived from its cause, so they are the same events.

Ids derived from causes (``kokunen_common.ids``) are what make the rebuilt slice equal to the original.
"""

from __future__ import annotations

import collections
import heapq
import time
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from kokunen_contracts.registry import BY_NAME

from .logs import get_logger
from .messaging import kafka_client_kwargs
from .service import ServiceRuntime

log = get_logger(__name__)
RUN_LENGTH = 2000
"""Records applied as one batch (one transaction): four times a live poll's, so each batch's statements are spread
over more records (5,000 gained little more CPU and cost 60 MB of peak RSS)."""
FETCH_RECORDS = 5000


class ReplayRefused(RuntimeError):
    """The slice cannot be rebuilt safely now (the message says why)."""


@dataclass(frozen=True)
class ReplayReport:
    service: str
    topics: tuple[str, ...]
    records: int
    seconds: float
    tables_emptied: tuple[str, ...]


async def replay(runtime: ServiceRuntime, owner_url: str) -> ReplayReport:
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

    handlers = {spec.name: handler for spec, handler in runtime.consumer.subscriptions}
    await runtime.start(consumers=False, relay=False)
    count = 0
    try:
        async for run in merged_runs(runtime, list(handlers)):
            await runtime.consumer.apply_batch(BY_NAME[run[0].topic], handlers[run[0].topic], run)
            count += len(run)
    finally:
        await runtime.stop()

    owner = await asyncpg.connect(owner_url)
    try:
        await owner.execute(
            f"UPDATE {schema}.outbox SET published_at = now() WHERE id > $1 AND published_at IS NULL", watermark
        )
    finally:
        await owner.close()
    report = ReplayReport(runtime.name, tuple(handlers), count, round(time.perf_counter() - started, 1), tuple(tables))
    log.info("replay done", service=report.service, records=report.records, seconds=report.seconds)
    return report


async def merged_runs(
    runtime: ServiceRuntime, topics: Sequence[str]
) -> collections.abc.AsyncIterator[list[ConsumerRecord[bytes, bytes]]]:
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
        run: list[ConsumerRecord[bytes, bytes]] = []
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
        if run:
            yield run
    finally:
        await consumer.stop()
