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
import contextlib
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from kokunen_common.db import is_transient
from kokunen_common.logs import get_logger
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
WHERE a.source_file = $1 AND a.source_line > $2
ORDER BY a.source_line
LIMIT $3
"""


class FileRelay:
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
        self._wake = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._lead(stop)
            except Exception as exc:
                if not is_transient(exc):
                    log.exception("file relay failed")
                else:
                    log.warning("file relay lost its connection; retrying", error=type(exc).__name__)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=1.0)

    async def _lead(self, stop: asyncio.Event) -> None:
        conn: asyncpg.Connection = await asyncpg.connect(self.database_url)
        try:
            while not await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", _LOCK):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=2.0)
                if stop.is_set():
                    return
            await conn.execute("SET datestyle = 'ISO, YMD'")  # dates go into the JSON bodies as text
            await conn.add_listener(CHANNEL, self._on_notify)
            while not stop.is_set():
                self._wake.clear()
                await self.publish_pending(conn, stop)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wait(stop), timeout=self.poll_interval_s)
        finally:
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)

    async def _wait(self, stop: asyncio.Event) -> None:
        waiter = asyncio.ensure_future(self._wake.wait())
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            stopper.cancel()

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def publish_pending(self, conn: asyncpg.Connection, stop: asyncio.Event | None = None) -> int:
        """Publish every imported file's figures not yet published; returns how many were sent."""
        sent = 0
        files = await conn.fetch(
            "SELECT id, published_through FROM tax.imported_file WHERE published_at IS NULL ORDER BY id"
        )
        for file in files:
            through = file["published_through"]
            rows = await conn.fetch(_BATCH_SQL, file["id"], through, self.batch_size)
            while rows and (stop is None or not stop.is_set()):
                futures = [
                    await self.producer.send(
                        INCOME_DETERMINED.name,
                        value=bytes(row["payload"]),
                        key=row["atena_number"].encode(),
                        headers=[
                            *_HEADERS,
                            ("ce_id", row["event_id"].encode()),
                            ("ce_time", row["recorded_at"].encode()),
                        ],
                    )
                    for row in rows
                ]
                through = rows[-1]["source_line"]
                # Read the next batch while Kafka acknowledges this one; record progress only once it has.
                following = await conn.fetch(_BATCH_SQL, file["id"], through, self.batch_size)
                await asyncio.gather(*futures)
                await conn.execute(
                    "UPDATE tax.imported_file SET published_through = $2 WHERE id = $1", file["id"], through
                )
                OUTBOX_PUBLISHED.labels(self.service, INCOME_DETERMINED.name).inc(len(rows))
                sent += len(rows)
                rows = following
            if not rows:
                await conn.execute("UPDATE tax.imported_file SET published_at = now() WHERE id = $1", file["id"])
                log.info("annual file's figures published", file_id=file["id"], through_line=through)
        return sent
