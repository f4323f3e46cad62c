"""The annual file's events, published from the slice itself.

A million figures committed by one import would be a million outbox rows written and then a million
updates marking them published. The figures are already committed, in order, with their event ids: the
slice is the outbox. This relay reads a file's figures in line order, builds each body with the same SQL
expression as the outbox path (``repository.PAYLOAD_SQL``), publishes them with the idempotent producer and,
once Kafka has acknowledged a batch, records how far it got (``imported_file.published_through``). A crash
between the two republishes the batch: consumers dedupe by event id, as with the outbox.

One relay publishes at a time (a session advisory lock); it wakes on the import's commit (NOTIFY) or polls.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from kokunen_common.logs import get_logger
from kokunen_common.outbox import LeaderRelay, PartitionBatches
from kokunen_common.telemetry import OUTBOX_PUBLISHED
from kokunen_contracts.registry import INCOME_DETERMINED

from .repository import CONSTANT_HEADERS, PAYLOAD_SQL

log = get_logger(__name__)

CHANNEL = "tax_imported_file"
_LOCK = "tax.file-relay"
_HEADERS = [(name, value.encode()) for name, value in CONSTANT_HEADERS]

_BATCH_SQL = f"""
SELECT a.source_line, a.atena_number, a.event_id::text AS event_id,
       to_json(a.recorded_at) #>> '{{}}' AS recorded_at, convert_to({PAYLOAD_SQL}, 'UTF8') AS payload
FROM tax.income_assessment a
WHERE a.source_file = $1 AND a.source_line > $2 AND a.source_line <= $2 + $3
ORDER BY a.source_line
"""
# A range of lines, not a LIMIT: each batch then reads (and builds the bodies of) only its own rows,
# whatever the planner thinks of a freshly loaded table.


class FileRelay(LeaderRelay):
    def __init__(
        self,
        *,
        service: str,
        database_url: str,
        producer: AIOKafkaProducer,
        batch_size: int = 10_000,
        poll_interval_s: float = 2.0,
    ) -> None:
        self.service = service
        self.database_url = database_url
        self.producer = producer
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.lock = _LOCK
        self.channel = CHANNEL
        super().__init__()

    async def prepare(self, conn: asyncpg.Connection) -> None:
        await conn.execute("SET datestyle = 'ISO, YMD'")  # dates go into the JSON bodies as text
        await conn.execute("SET work_mem = '64MB'")  # a batch's rows sorted in memory

    async def cycle(self, conn: asyncpg.Connection, stop: asyncio.Event) -> bool:
        await self.publish_pending(conn, stop)
        return False  # publish_pending goes on until every file is published

    async def _send(self, rows: list[asyncpg.Record]) -> list[asyncio.Future[Any]]:
        """Hand the rows to the producer as record batches per partition, in line order (``PartitionBatches``: the
        default partitioner's partition, as for the outbox path's events)."""
        topic = INCOME_DETERMINED.name
        batches: PartitionBatches[None] = PartitionBatches(self.producer)
        for row in rows:
            key = row["atena_number"].encode()
            headers = [*_HEADERS, ("ce_id", row["event_id"].encode()), ("ce_time", row["recorded_at"].encode())]
            partition = await batches.partition(topic, key)
            await batches.add(topic, partition, None, key=key, value=bytes(row["payload"]), headers=headers)
        return [future for _, future in await batches.submit_all()]

    async def publish_pending(self, conn: asyncpg.Connection, stop: asyncio.Event | None = None) -> int:
        """Publish every imported file's figures not yet published; returns how many were sent."""
        sent = 0
        files = await conn.fetch(
            "SELECT id, published_through FROM tax.imported_file WHERE published_at IS NULL ORDER BY id"
        )
        for file in files:
            file_id, through = file["id"], file["published_through"]
            last = await conn.fetchval(
                "SELECT coalesce(max(source_line), 0) FROM tax.income_assessment WHERE source_file = $1", file_id
            )
            rows = await conn.fetch(_BATCH_SQL, file_id, through, self.batch_size)
            while through < last and (stop is None or not stop.is_set()):
                futures = await self._send(rows)
                upto = min(through + self.batch_size, last)
                # Read the next lines while Kafka acknowledges these; record progress only once it has.
                following = await conn.fetch(_BATCH_SQL, file_id, upto, self.batch_size) if upto < last else []
                await asyncio.gather(*futures)
                await conn.execute("UPDATE tax.imported_file SET published_through = $2 WHERE id = $1", file_id, upto)
                OUTBOX_PUBLISHED.labels(self.service, INCOME_DETERMINED.name).inc(len(rows))
                sent += len(rows)
                through, rows = upto, following
            if through >= last:
                await conn.execute("UPDATE tax.imported_file SET published_at = now() WHERE id = $1", file_id)
                log.info("annual file's figures published", file_id=file_id, through_line=through)
        return sent
