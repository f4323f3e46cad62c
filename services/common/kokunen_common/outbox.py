"""Transactional outbox: events a transaction causes are rows in the same transaction; a relay
publishes them afterwards with an idempotent producer, in commit order per key.

Dead letters go through the outbox too, so that rejecting a message and recording that we did
commit together: a redelivered poison message is a duplicate in the inbox, not a second dead letter.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from kokunen_contracts.envelope import Event, cloudevent_headers
from kokunen_contracts.registry import TopicSpec
from opentelemetry.trace import SpanKind

from .db import is_transient
from .logs import get_logger
from .telemetry import (
    OUTBOX_PENDING,
    OUTBOX_PUBLISHED,
    context_from_headers,
    current_traceparent,
    headers_with_trace,
    tracer,
)

log = get_logger(__name__)

OUTBOX_COLUMNS = ("event_id", "topic", "message_key", "payload", "headers")


def encode_headers(headers: Iterable[tuple[str, bytes]]) -> str:
    return json.dumps([[k, base64.b64encode(v).decode("ascii")] for k, v in headers])


def decode_headers(text: str) -> list[tuple[str, bytes]]:
    return [(k, base64.b64decode(v)) for k, v in json.loads(text)]


@dataclass
class OutboxBuffer:
    """Rows one transaction will add to its schema's outbox (written by ``flush``)."""

    schema: str
    source: str
    rows: list[tuple[uuid.UUID, str, str | None, bytes, str]] = field(default_factory=list)

    def publish(self, spec: TopicSpec, event: Event, *, traced: bool = True) -> None:
        """Queue ``event`` for ``spec``'s topic. ``traced=False`` for bulk loads, where one span covers
        the whole load and a trace per row would only cost time."""
        if not isinstance(event, spec.model):
            raise TypeError(f"{type(event).__name__} does not belong on {spec.name} ({spec.model.__name__})")
        trace_headers = current_traceparent() if traced else {}
        headers = cloudevent_headers(
            event,
            source=self.source,
            traceparent=trace_headers.get("traceparent"),
            tracestate=trace_headers.get("tracestate"),
        )
        self.rows.append(
            (event.event_id, spec.name, spec.key_of(event), event.model_dump_json().encode(), encode_headers(headers))
        )

    def publish_batch(self, spec: TopicSpec, events: Sequence[Event]) -> None:
        """Queue many events of one topic for a bulk run (one span covers the run, no trace per row).

        Same rows as ``publish(..., traced=False)``; the CloudEvents headers are encoded once per distinct
        ``recorded_at`` and only the event id is spliced in, which keeps a monthly batch of 300,000 records
        from spending most of its time on JSON and base64 of identical headers."""
        templates: dict[datetime, tuple[str, str]] = {}
        append = self.rows.append
        for event in events:
            if not isinstance(event, spec.model):
                raise TypeError(f"{type(event).__name__} does not belong on {spec.name} ({spec.model.__name__})")
            event_id = event.event_id
            encoded_id = base64.b64encode(str(event_id).encode()).decode("ascii")
            template = templates.get(event.recorded_at)
            if template is None:
                sample = encode_headers(cloudevent_headers(event, source=self.source))
                head, found, tail = sample.partition(encoded_id)
                if not found:
                    raise AssertionError("the ce_id header was not found in its own encoding")
                template = templates[event.recorded_at] = (head, tail)
            append(
                (
                    event_id,
                    spec.name,
                    spec.key_of(event),
                    event.model_dump_json().encode(),
                    template[0] + encoded_id + template[1],
                )
            )

    def dead_letter(
        self,
        spec: TopicSpec,
        *,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]],
        reason: str,
        error_class: str,
        partition: int,
        offset: int,
    ) -> None:
        """The original bytes and headers, plus why, for ``<topic>.dlq``."""
        extra = [
            ("dlq_reason", reason.encode()),
            ("dlq_error_class", error_class.encode()),
            ("dlq_source_topic", spec.name.encode()),
            ("dlq_source_partition", str(partition).encode()),
            ("dlq_source_offset", str(offset).encode()),
            ("dlq_service", self.source.rsplit("/", 1)[-1].encode()),
            ("dlq_failed_at", datetime.now(UTC).isoformat().encode()),
        ]
        original = [(k, v) for k, v in headers if not k.startswith("dlq_")]
        self.rows.append(
            (
                uuid.uuid4(),
                spec.dlq,
                key.decode("utf-8", errors="replace") if key is not None else None,
                value or b"",
                encode_headers([*original, *extra]),
            )
        )

    def mark(self) -> int:
        return len(self.rows)

    def rollback_to(self, mark: int) -> None:
        del self.rows[mark:]

    async def flush(self, conn: asyncpg.Connection, *, skip_duplicates: bool = False) -> int:
        """Write the rows. ``skip_duplicates`` for producers whose event ids are deterministic (a rerun of a
        scheduler writes the same ids again: the rows already there stay, nothing is doubled)."""
        if not self.rows:
            return 0
        if skip_duplicates:
            await conn.executemany(
                f"INSERT INTO {self.schema}.outbox (event_id, topic, message_key, payload, headers) "
                "VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT (event_id) DO NOTHING",
                self.rows,
            )
        elif len(self.rows) == 1:
            await conn.execute(
                f"INSERT INTO {self.schema}.outbox (event_id, topic, message_key, payload, headers) "
                "VALUES ($1, $2, $3, $4, $5::jsonb)",
                *self.rows[0],
            )
        else:
            await conn.copy_records_to_table(
                "outbox", schema_name=self.schema, columns=OUTBOX_COLUMNS, records=self.rows
            )
        count = len(self.rows)
        self.rows.clear()
        return count


def outbox_ddl(schema: str) -> list[str]:
    """Inbox and outbox tables of one service schema (each service's first migration runs these)."""
    return [
        f"""CREATE TABLE {schema}.inbox (
            message_key text PRIMARY KEY,
            topic       text        NOT NULL,
            partition   integer     NOT NULL,
            "offset"    bigint      NOT NULL,
            received_at timestamptz NOT NULL DEFAULT now())""",
        f"""COMMENT ON TABLE {schema}.inbox IS 'Messages already applied (event id, or topic/partition/offset '
            'when the id is unreadable): a redelivery is a no-op'""",
        f"""CREATE TABLE {schema}.outbox (
            id           bigserial   PRIMARY KEY,
            event_id     uuid        NOT NULL UNIQUE,
            topic        text        NOT NULL,
            message_key  text,
            payload      bytea       NOT NULL,
            headers      jsonb       NOT NULL,
            created_at   timestamptz NOT NULL DEFAULT now(),
            published_at timestamptz)""",
        f"CREATE INDEX outbox_unpublished ON {schema}.outbox (id) WHERE published_at IS NULL",
        f"""COMMENT ON TABLE {schema}.outbox IS 'Events caused by committed transactions, published by the '
            'relay in id order'""",
        f"""CREATE FUNCTION {schema}.outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_notify('{schema}_outbox', '');
                RETURN NULL;
            END $$""",
        f"""CREATE TRIGGER outbox_notify AFTER INSERT ON {schema}.outbox
            FOR EACH STATEMENT EXECUTE FUNCTION {schema}.outbox_notify()""",
    ]


class LeaderRelay:
    """A background publisher of which one instance leads at a time (a session advisory lock on ``lock``):
    a standby takes over when the leader's connection goes. It runs ``cycle`` on its own connection, again at
    once while there is more to do, else on a NOTIFY on ``channel`` or after ``poll_interval_s``; a lost
    connection is retried after a second, any other failure logged and retried the same way."""

    database_url: str
    lock: str
    channel: str
    poll_interval_s: float

    def __init__(self) -> None:
        self._wake = asyncio.Event()
        self.alive_at = time.monotonic()
        """When the relay last finished a cycle or (as a standby) asked for the lock: readiness calls a
        relay whose last sign of life is too old stalled."""

    async def prepare(self, conn: asyncpg.Connection) -> None:
        """Session settings of the leader's connection (none by default)."""

    async def cycle(self, conn: asyncpg.Connection, stop: asyncio.Event) -> bool:
        """Publish what is pending; True when more is waiting (no pause before the next cycle)."""
        raise NotImplementedError

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._lead(stop)
            except Exception as exc:
                if not is_transient(exc):
                    log.exception("relay failed", relay=self.lock)
                else:
                    log.warning("relay lost its connection; retrying", relay=self.lock, error=type(exc).__name__)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=1.0)

    async def _lead(self, stop: asyncio.Event) -> None:
        conn: asyncpg.Connection = await asyncpg.connect(self.database_url)
        try:
            while not await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", self.lock):
                self.alive_at = time.monotonic()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=2.0)
                if stop.is_set():
                    return
            await self.prepare(conn)
            await conn.add_listener(self.channel, self._on_notify)
            while not stop.is_set():
                self._wake.clear()  # before the cycle: a NOTIFY during it means another cycle at once
                more = await self.cycle(conn, stop)
                self.alive_at = time.monotonic()
                if not more:
                    waiter = asyncio.ensure_future(self._wake.wait())
                    stopper = asyncio.ensure_future(stop.wait())
                    await asyncio.wait(
                        {waiter, stopper}, timeout=self.poll_interval_s, return_when=asyncio.FIRST_COMPLETED
                    )
                    waiter.cancel()
                    stopper.cancel()
        finally:
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()


class OutboxRelay(LeaderRelay):
    """Publishes a schema's outbox rows to Kafka, oldest first, then marks them published.

    One relay per schema publishes at a time (a session advisory lock), so rows of one key leave in
    id order; a standby instance takes over when the leader's connection goes. A crash between the
    publish and the mark republishes the rows: consumers dedupe by event id.
    """

    def __init__(
        self,
        *,
        service: str,
        schema: str,
        database_url: str,
        producer: AIOKafkaProducer,
        batch_size: int = 2000,
        poll_interval_s: float = 0.5,
        retention_days: int = 7,
    ) -> None:
        self.service = service
        self.schema = schema
        self.database_url = database_url
        self.producer = producer
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.retention_days = retention_days
        self.lock = f"{schema}.outbox"
        self.channel = f"{schema}_outbox"
        self._passes = 0
        super().__init__()

    async def cycle(self, conn: asyncpg.Connection, stop: asyncio.Event) -> bool:
        published = await self.publish_pending(conn)
        self._passes += 1
        if self._passes % 1000 == 0:
            await self._purge(conn)
        return published >= self.batch_size

    async def publish_pending(self, conn: asyncpg.Connection) -> int:
        rows = await conn.fetch(
            f"SELECT id, topic, message_key, payload, headers::text AS headers FROM {self.schema}.outbox "
            "WHERE published_at IS NULL ORDER BY id LIMIT $1",
            self.batch_size,
        )
        if not rows:
            OUTBOX_PENDING.labels(self.service).set(0)
            return 0
        futures = []
        per_topic: Counter[str] = Counter()
        for row in rows:
            headers = decode_headers(row["headers"])
            key = row["message_key"].encode() if row["message_key"] is not None else None
            trace_headers = {k: v.decode() for k, v in headers if k in ("traceparent", "tracestate")}
            if trace_headers:
                # A short producer span continues the trace that wrote the row.
                with tracer().start_as_current_span(
                    f"{row['topic']} publish",
                    context=context_from_headers(trace_headers),
                    kind=SpanKind.PRODUCER,
                    attributes={
                        "messaging.system": "kafka",
                        "messaging.destination.name": row["topic"],
                        "messaging.operation.type": "send",
                    },
                ):
                    headers = headers_with_trace(headers)
                    futures.append(
                        await self.producer.send(row["topic"], value=bytes(row["payload"]), key=key, headers=headers)
                    )
            else:
                futures.append(
                    await self.producer.send(row["topic"], value=bytes(row["payload"]), key=key, headers=headers)
                )
            per_topic[row["topic"]] += 1
        await asyncio.gather(*futures)
        await conn.execute(
            f"UPDATE {self.schema}.outbox SET published_at = now() WHERE id = ANY($1::bigint[])",
            [row["id"] for row in rows],
        )
        for topic, count in per_topic.items():
            OUTBOX_PUBLISHED.labels(self.service, topic).inc(count)
        if len(rows) < self.batch_size:
            OUTBOX_PENDING.labels(self.service).set(0)
        return len(rows)

    async def _purge(self, conn: asyncpg.Connection) -> None:
        deleted = await conn.execute(
            f"DELETE FROM {self.schema}.outbox WHERE published_at < now() - make_interval(days => $1)",
            self.retention_days,
        )
        log.info("outbox purged", schema=self.schema, result=deleted)
