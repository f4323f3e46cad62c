"""Transactional outbox: events a transaction causes are rows in the same transaction; a relay
publishes them afterwards with an idempotent producer, in commit order per key.

Dead letters go through the outbox too, so that rejecting a message and recording that we did
commit together: a redelivered poison message is a duplicate in the inbox, not a second dead letter.
Each dead letter is also kept in the schema's ``dead_letter`` store with its raw key, headers and body as
bytes (whatever they are); one too large for the broker publishes a prefix and a reference to that row.

The relay never blocks on one row: a row the broker refuses (too large, not authorized, invalid) is moved
to ``outbox_quarantine`` with the reason (an error log line and ``kokunen_outbox_quarantined``), and the rest
flow on. Per-key order then skips that row: an operator decides (re-queue after fixing, or drop).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka import errors as kafka_errors
from aiokafka.partitioner import DefaultPartitioner
from kokunen_contracts.envelope import (
    H_CONTENT_TYPE,
    H_TRACEPARENT,
    H_TRACESTATE,
    REQUIRED_HEADERS,
    Event,
    cloudevent_headers,
)
from kokunen_contracts.registry import TopicSpec
from kokunen_contracts.strict import CONTROL_CHARACTERS
from opentelemetry.trace import SpanKind

from .logs import OUTAGES, get_logger
from .telemetry import (
    OUTBOX_PENDING,
    OUTBOX_PUBLISHED,
    OUTBOX_QUARANTINED,
    current_traceparent,
    tracer,
)

log = get_logger(__name__)
T = TypeVar("T")

OUTBOX_COLUMNS = ("event_id", "topic", "message_key", "payload", "headers", "message_key_raw")

DEAD_LETTER_MAX_BYTES = 900 * 1024
"""Largest dead letter published whole (key, headers and body): the broker's default limit is 1 MiB."""
DEAD_LETTER_PREFIX_BYTES = 64 * 1024
"""How much of a larger body its dead letter carries; the whole original stays in ``dead_letter``."""
_HEADER_PREFIX_BYTES = 1024

OutboxRow = tuple[uuid.UUID, str, str | None, bytes, str, bytes | None]
"""event_id, topic, message_key (text), payload, headers (encoded), message_key_raw (dead letters only)."""


def _header_name(name: str) -> str:
    """A header name as JSON: a name that holds a NUL (which jsonb cannot store) as ``{"b64": …}``."""
    if "\x00" in name:
        return json.dumps({"b64": base64.b64encode(name.encode()).decode("ascii")})
    return json.dumps(name)


_ENVELOPE_NAMES = {
    name: _header_name(name) for name in (*REQUIRED_HEADERS, H_CONTENT_TYPE, H_TRACEPARENT, H_TRACESTATE)
}


def _encoded_header(name: str, value: bytes | None) -> str:
    encoded = _ENVELOPE_NAMES.get(name) or _header_name(name)
    if value is None:
        return f"[{encoded}, null]"
    return f'[{encoded}, "{base64.b64encode(value).decode("ascii")}"]'  # base64 needs no escaping


def encode_headers(headers: Iterable[tuple[str, bytes | None]]) -> str:
    """Kafka headers as JSON (jsonb): ``[[name, value], …]``, values in base64, a header without a value as
    null. Written by hand, the envelope's names encoded once: ``json.dumps`` of the pairs cost as much as the
    rest of publishing an event (issue 12)."""
    return "[" + ", ".join(_encoded_header(k, v) for k, v in headers) + "]"


def decode_headers(text: str) -> list[tuple[str, bytes | None]]:
    return [
        (
            base64.b64decode(k["b64"]).decode() if isinstance(k, dict) else k,
            None if v is None else base64.b64decode(v),
        )
        for k, v in json.loads(text)
    ]


def _text_key(key: bytes | None) -> str | None:
    """The key as text when it is clean UTF-8 (what operators query by); None otherwise."""
    if key is None:
        return None
    try:
        text = key.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if "\x00" in text else text


@dataclass
class OutboxBuffer:
    """Rows one transaction will add to its schema's outbox (written by ``flush``)."""

    schema: str
    source: str
    rows: list[OutboxRow] = field(default_factory=list)
    dead_letters: list[tuple[Any, ...]] = field(default_factory=list)
    """Rows of the ``dead_letter`` store (the raw originals of this transaction's dead letters)."""

    def publish(
        self, spec: TopicSpec, event: Event, *, traced: bool = True, trace: Mapping[str, str] | None = None
    ) -> None:
        """Queue ``event`` for ``spec``'s topic, in the current span's trace or in ``trace`` (a context captured
        earlier by ``current_traceparent``: a handler that gathers a batch publishes each event's effects in that
        event's own trace without making it current again). ``traced=False`` for bulk loads, where one span
        covers the whole load and a trace per row would only cost time."""
        if not isinstance(event, spec.model):
            raise TypeError(f"{type(event).__name__} does not belong on {spec.name} ({spec.model.__name__})")
        trace_headers = (current_traceparent() if trace is None else trace) if traced else {}
        headers = cloudevent_headers(
            event,
            source=self.source,
            traceparent=trace_headers.get("traceparent"),
            tracestate=trace_headers.get("tracestate"),
        )
        self.rows.append(
            (
                event.event_id,
                spec.name,
                spec.key_of(event),
                event.model_dump_json().encode(),
                encode_headers(headers),
                None,
            )
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
                    None,
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
        """The original bytes and headers, plus why, for ``<topic>.dlq``; the raw original in ``dead_letter``.

        A dead letter larger than ``DEAD_LETTER_MAX_BYTES`` publishes the first ``DEAD_LETTER_PREFIX_BYTES`` of
        the body (header values cut to 1 KiB) with ``dlq_original_ref`` (the ``dead_letter`` row's id) and
        ``dlq_original_size``: the broker would refuse it whole."""
        letter_id = uuid.uuid4()
        reason = CONTROL_CHARACTERS.sub("?", reason)
        extra: list[tuple[str, bytes | None]] = [
            ("dlq_reason", reason.encode()),
            ("dlq_error_class", error_class.encode()),
            ("dlq_source_topic", spec.name.encode()),
            ("dlq_source_partition", str(partition).encode()),
            ("dlq_source_offset", str(offset).encode()),
            ("dlq_service", self.source.rsplit("/", 1)[-1].encode()),
            ("dlq_failed_at", datetime.now(UTC).isoformat().encode()),
        ]
        original = [(k, v) for k, v in headers if not k.startswith("dlq_")]
        size = len(key or b"") + len(value or b"") + sum(len(k) + len(v or b"") for k, v in [*original, *extra])
        payload, published_key = value or b"", key
        if size > DEAD_LETTER_MAX_BYTES:
            payload = payload[:DEAD_LETTER_PREFIX_BYTES]
            published_key = key[:_HEADER_PREFIX_BYTES] if key is not None else None
            original = [(k[:_HEADER_PREFIX_BYTES], v if v is None else v[:_HEADER_PREFIX_BYTES]) for k, v in original]
            extra += [
                ("dlq_original_ref", str(letter_id).encode()),
                ("dlq_original_size", str(len(value or b"")).encode()),
            ]
        self.rows.append(
            (
                letter_id,
                spec.dlq,
                _text_key(published_key),
                payload,
                encode_headers([*original, *extra]),
                published_key,
            )
        )
        self.dead_letters.append(
            (
                letter_id,
                spec.name,
                partition,
                offset,
                key,
                [k.encode() for k, _ in headers],
                [v for _, v in headers],
                value,
                reason,
                error_class,
            )
        )

    def mark(self) -> tuple[int, int]:
        return len(self.rows), len(self.dead_letters)

    def rollback_to(self, mark: tuple[int, int]) -> None:
        del self.rows[mark[0] :]
        del self.dead_letters[mark[1] :]

    async def flush(self, conn: asyncpg.Connection, *, skip_duplicates: bool = False) -> int:
        """Write the rows. ``skip_duplicates`` for producers whose event ids are deterministic (a rerun of a
        scheduler writes the same ids again: the rows already there stay, nothing is doubled)."""
        if self.dead_letters:
            await conn.executemany(
                f"""INSERT INTO {self.schema}.dead_letter (id, source_topic, source_partition, source_offset,
                        key, header_names, header_values, value, reason, error_class)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)""",
                self.dead_letters,
            )
            self.dead_letters.clear()
        if not self.rows:
            return 0
        if skip_duplicates:
            await conn.executemany(
                f"INSERT INTO {self.schema}.outbox (event_id, topic, message_key, payload, headers, message_key_raw) "
                "VALUES ($1, $2, $3, $4, $5::jsonb, $6) ON CONFLICT (event_id) DO NOTHING",
                self.rows,
            )
        elif len(self.rows) == 1:
            await conn.execute(
                f"INSERT INTO {self.schema}.outbox (event_id, topic, message_key, payload, headers, message_key_raw) "
                "VALUES ($1, $2, $3, $4, $5::jsonb, $6)",
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
        f"""COMMENT ON TABLE {schema}.outbox IS 'Events caused by committed transactions, published by the '
            'relay in id order'""",
        f"""CREATE FUNCTION {schema}.outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_notify('{schema}_outbox', '');
                RETURN NULL;
            END $$""",
        f"""CREATE TRIGGER outbox_notify AFTER INSERT ON {schema}.outbox
            FOR EACH STATEMENT EXECUTE FUNCTION {schema}.outbox_notify()""",
        *delivery_safety_ddl(schema),
        *relay_position_ddl(schema),
    ]


def relay_position_ddl(schema: str) -> list[str]:
    """How the relay finds the rows still to publish without visiting those it published (issue 12; ADR 0008).
    Idempotent: part of ``outbox_ddl`` for a new schema, and each existing service's ``0902`` migration (branch
    ``delivery``) runs it too.

    - ``relay_xid``: the writing transaction (``pg_current_xact_id()``, the top-level one in a savepoint, stable:
      adding the column rewrites nothing, COPY keeps its multi-row inserts), indexed: a row that commits after the
      relay read past its id is found by its transaction, which the relay's last snapshot saw running or not yet
      begun (``OutboxRelay.read_pending``).
    - No index mentions ``published_at`` any more (the partial index ``outbox_unpublished`` goes) and pages are
      filled to half: marking a row published is then a HOT update — the new version on the same page, no index
      entry added, the unchanged bytes not logged again — instead of a copy of the row and an entry in every index.
    - A row set pending again by hand (``published_at`` back to NULL) takes the current transaction as its
      ``relay_xid``, so the relay finds it like a row just written."""
    return [
        f"""ALTER TABLE {schema}.outbox
            ADD COLUMN IF NOT EXISTS relay_xid xid8 NOT NULL DEFAULT pg_current_xact_id()""",
        f"""COMMENT ON COLUMN {schema}.outbox.relay_xid IS 'The transaction that wrote the row (or set it pending '
            'again): how the relay finds a row that committed after it read past its id'""",
        f"CREATE INDEX IF NOT EXISTS outbox_relay_xid ON {schema}.outbox (relay_xid)",
        f"DROP INDEX IF EXISTS {schema}.outbox_unpublished",
        f"ALTER TABLE {schema}.outbox SET (fillfactor = 50)",
        f"""CREATE OR REPLACE FUNCTION {schema}.outbox_pending_again() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                NEW.relay_xid := pg_current_xact_id();
                RETURN NEW;
            END $$""",
        f"DROP TRIGGER IF EXISTS outbox_pending_again ON {schema}.outbox",
        f"""CREATE TRIGGER outbox_pending_again BEFORE UPDATE OF published_at ON {schema}.outbox FOR EACH ROW
            WHEN (OLD.published_at IS NOT NULL AND NEW.published_at IS NULL)
            EXECUTE FUNCTION {schema}.outbox_pending_again()""",
    ]


def delivery_safety_ddl(schema: str) -> list[str]:
    """The dead-letter store, the relay's quarantine and the redelivery counter (issue 13). Idempotent: part of
    ``outbox_ddl`` for a new schema, and each existing service's ``delivery`` migration branch runs it too."""
    return [
        f"ALTER TABLE {schema}.outbox ADD COLUMN IF NOT EXISTS message_key_raw bytea",
        f"""COMMENT ON COLUMN {schema}.outbox.message_key_raw IS 'A dead letter''s original Kafka key as bytes '
            '(it may not be text: a NUL, not UTF-8); published instead of message_key when set'""",
        f"""CREATE TABLE IF NOT EXISTS {schema}.dead_letter (
            id               uuid        PRIMARY KEY,   -- the event id of its outbox row (dlq_original_ref)
            source_topic     text        NOT NULL,
            source_partition integer     NOT NULL,
            source_offset    bigint      NOT NULL,
            key              bytea,
            header_names     bytea[]     NOT NULL,
            header_values    bytea[]     NOT NULL,
            value            bytea,
            reason           text        NOT NULL,
            error_class      text        NOT NULL,
            created_at       timestamptz NOT NULL DEFAULT now())""",
        f"""COMMENT ON TABLE {schema}.dead_letter IS 'Every message this service dead-lettered, exactly as it '
            'arrived (key, headers, body as bytes), with the reason'""",
        f"""CREATE TABLE IF NOT EXISTS {schema}.outbox_quarantine (
            id              bigint      PRIMARY KEY,    -- its outbox id
            event_id        uuid        NOT NULL,
            topic           text        NOT NULL,
            message_key     text,
            message_key_raw bytea,
            payload         bytea       NOT NULL,
            headers         jsonb       NOT NULL,
            created_at      timestamptz NOT NULL,
            quarantined_at  timestamptz NOT NULL DEFAULT now(),
            reason          text        NOT NULL)""",
        f"""COMMENT ON TABLE {schema}.outbox_quarantine IS 'Outbox rows the broker refused (too large, not '
            'authorized, invalid): taken out of the queue so the rest flow on; re-queue by inserting back'""",
        f"""CREATE TABLE IF NOT EXISTS {schema}.delivery_attempt (
            topic       text    NOT NULL,
            partition   integer NOT NULL,
            "offset"    bigint  NOT NULL,   -- where the last delivery of this partition started
            attempts    integer NOT NULL,   -- deliveries from that offset so far
            suspect_offset   bigint,        -- the message tried alone after a redelivery
            suspect_attempts integer NOT NULL DEFAULT 0,
            PRIMARY KEY (topic, partition))""",
        f"""CREATE TABLE IF NOT EXISTS {schema}.dead_letter_purge (
            purged_at      timestamptz NOT NULL DEFAULT now(),
            retention_days integer     NOT NULL,
            deleted        bigint      NOT NULL,
            oldest         timestamptz NOT NULL,
            newest         timestamptz NOT NULL)""",
        f"""COMMENT ON TABLE {schema}.dead_letter_purge IS 'Each deletion of dead letters past their retention '
            '(residency: they carry clear My Numbers)'""",
        f"""COMMENT ON TABLE {schema}.delivery_attempt IS 'How often Kafka delivered the same offset without '
            'progress: past the limit the message is dead-lettered as poison'""",
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
                # Database or broker away, or a failing row: said once when it starts and once when it ends
                # (the relay retries every second; readiness reports it stalled meanwhile).
                OUTAGES.failed(f"relay {self.lock}", exc)
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
                OUTAGES.succeeded(f"relay {self.lock}")
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


async def purge_dead_letters(conn: asyncpg.Connection, schema: str, retention_days: int) -> int:
    """Delete the dead-letter store's messages older than ``retention_days`` and record the deletion (when,
    how many, the oldest and newest deleted) in ``dead_letter_purge``, in one transaction."""
    async with conn.transaction():
        row = await conn.fetchrow(
            f"""WITH gone AS (
                    DELETE FROM {schema}.dead_letter WHERE created_at < now() - make_interval(days => $1)
                    RETURNING created_at)
                INSERT INTO {schema}.dead_letter_purge (retention_days, deleted, oldest, newest)
                SELECT $1, count(*), min(created_at), max(created_at) FROM gone HAVING count(*) > 0
                RETURNING deleted""",
            retention_days,
        )
    deleted = int(row["deleted"]) if row else 0
    if deleted:
        log.info("dead letters past their retention deleted", schema=schema, deleted=deleted)
    return deleted


_REFUSALS: tuple[type[BaseException], ...] = (
    kafka_errors.MessageSizeTooLargeError,
    kafka_errors.RecordTooLargeError,
    kafka_errors.RecordListTooLargeError,
    kafka_errors.TopicAuthorizationFailedError,
    kafka_errors.InvalidTopicError,
    kafka_errors.PolicyViolationError,
    kafka_errors.CorruptRecordException,
    kafka_errors.UnsupportedForMessageFormatError,
    TypeError,  # a row aiokafka cannot serialise
    ValueError,
)


def _refusal(exc: BaseException) -> bool:
    """The broker (or the client on its behalf) refuses this row for what it is: retrying will not help.
    Anything else (broker down, timeouts, leadership moving) is retried with the whole batch."""
    return isinstance(exc, _REFUSALS)


_PARTITIONER = DefaultPartitioner()
_ALONE_BYTES = 64 * 1024
"""An outbox row this large (body and header values) is sent on its own (see ``_send_in_batches``)."""


def _kafka_key(row: asyncpg.Record) -> bytes | None:
    """An outbox row's Kafka key: a dead letter's original bytes, else the text key."""
    if row["message_key_raw"] is not None:
        return bytes(row["message_key_raw"])
    return row["message_key"].encode() if row["message_key"] is not None else None


class PartitionBatches(Generic[T]):
    """Records handed to a producer as whole record batches, one open batch per topic partition, in the order they
    are added: a batch skips the per-message bookkeeping of ``send`` (a future, a partitioner call and a queue
    append each, about two thirds of a relay's time per event, issue 12). ``partition`` is the default
    partitioner's (murmur2 of the key), so a key's records land where ``send`` would put them. ``sent``: each
    batch handed over, with the items it carries and the future of its acknowledgement."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer
        self.sent: list[tuple[list[T], asyncio.Future[Any]]] = []
        self._open: dict[tuple[str, int], tuple[Any, list[T]]] = {}
        self._partitions: dict[str, list[int]] = {}

    async def partition(self, topic: str, key: bytes | None) -> int:
        if topic not in self._partitions:
            self._partitions[topic] = sorted(await self.producer.partitions_for(topic))
        return int(_PARTITIONER(key, self._partitions[topic], self._partitions[topic]))

    async def add(
        self,
        topic: str,
        partition: int,
        item: T,
        *,
        key: bytes | None,
        value: bytes,
        headers: Sequence[tuple[str, bytes | None]],
    ) -> None:
        """Append a record to its partition's open batch; a full batch is handed over and a new one opened."""
        where = (topic, partition)
        if where not in self._open:
            self._open[where] = (self.producer.create_batch(), [])
        builder, items = self._open[where]
        if builder.append(key=key, value=value, timestamp=None, headers=headers) is None:  # full: send it
            await self.submit(topic, partition)
            builder, items = self._open[where] = (self.producer.create_batch(), [])
            builder.append(key=key, value=value, timestamp=None, headers=headers)
        items.append(item)

    async def submit(self, topic: str, partition: int) -> None:
        """Hand over the partition's open batch, if any (before a record sent on its own after it, keeping order)."""
        opened = self._open.pop((topic, partition), None)
        if opened is not None:
            builder, items = opened
            builder.close()  # complete: the producer sends it at once instead of lingering for more (issue 12)
            self.sent.append((items, await self.producer.send_batch(builder, topic, partition=partition)))

    async def submit_all(self) -> list[tuple[list[T], asyncio.Future[Any]]]:
        """Hand over every open batch; returns ``sent``."""
        for topic, partition in list(self._open):
            await self.submit(topic, partition)
        return self.sent


@dataclass(frozen=True)
class RelayRead:
    """What one ``OutboxRelay.read_pending`` returned and saw."""

    rows: list[asyncpg.Record]
    snapshot: str
    """``pg_current_snapshot()`` of the read, as text."""
    last_id: int
    """The highest id the read saw (0: none)."""


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
        purge_interval_s: float = 600.0,
        producer_factory: Callable[[], AIOKafkaProducer] | None = None,
        dead_letter_retention_days: int | None = None,
    ) -> None:
        self.service = service
        self.dead_letter_retention_days = dead_letter_retention_days
        self.producer_factory = producer_factory
        self.schema = schema
        self.database_url = database_url
        self.producer = producer
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.retention_days = retention_days
        self.purge_interval_s = purge_interval_s
        """How often the leader deletes rows published longer than ``retention_days`` ago (a scan of the whole
        outbox): by the clock, not every so many cycles — paced traffic brings dozens of cycles a second."""
        self.lock = f"{schema}.outbox"
        self.channel = f"{schema}_outbox"
        self._purged_at = time.monotonic()
        self._read_through = 0
        """The relay's position (ADR 0008): every row with an id up to this one whose transaction ``_seen`` shows
        committed is published (or quarantined). 0 when it starts leading: the first read walks the whole outbox."""
        self._seen: str | None = None
        """The snapshot of the last read (``pg_current_snapshot()`` as text), None before the first."""
        self._renewal_due = False
        super().__init__()

    async def prepare(self, conn: asyncpg.Connection) -> None:
        # Each part of ``read_pending`` walks an index from its position. The planner, misled by statistics taken
        # while many rows were pending, would otherwise pick a sequential or bitmap scan: every page of the outbox,
        # every cycle — 7.7 ms for 44,000 published rows, in each of the dozens of cycles a second paced traffic
        # brings (issue 12).
        self._read_through, self._seen = 0, None
        await conn.execute("SET enable_seqscan = off")
        await conn.execute("SET enable_bitmapscan = off")

    async def cycle(self, conn: asyncpg.Connection, stop: asyncio.Event) -> bool:
        if self._renewal_due:  # the last renewal failed (broker away): the old producer must not send again
            await self._renew_producer()
        published = await self.publish_pending(conn)
        if time.monotonic() - self._purged_at >= self.purge_interval_s:
            await self._purge(conn)
            self._purged_at = time.monotonic()
        return published >= self.batch_size

    @property
    def pending_query(self) -> str:
        """The oldest ``$3`` rows not yet published, as ``WHERE published_at IS NULL ORDER BY id LIMIT $3`` would
        return them, without visiting the rows published before (ADR 0008): those with an id past the position
        ``$1`` (an index walk from there), and those up to it that committed after the last read ``$2`` saw — their
        transaction running then (``pg_snapshot_xip``) or not yet begun (from ``pg_snapshot_xmax``). Every other row
        up to the position was visible to that read, so it was published then or before. Returns the statement's
        own snapshot and the highest id it sees on each row (one row, of NULLs else, when nothing is pending)."""
        columns = "id, topic, message_key, message_key_raw, payload, headers::text AS headers"
        outbox = f"{self.schema}.outbox"
        return f"""
            SELECT seen.*, pending.*
            FROM (
                SELECT pg_current_snapshot()::text AS snapshot, (SELECT coalesce(max(id), 0) FROM {outbox}) AS last_id
            ) AS seen
            LEFT JOIN (
                SELECT * FROM (
                    (SELECT {columns} FROM {outbox} WHERE id > $1 AND published_at IS NULL ORDER BY id LIMIT $3)
                    UNION ALL
                    SELECT {columns} FROM {outbox}
                    WHERE relay_xid = ANY(ARRAY(SELECT pg_snapshot_xip($2::text::pg_snapshot)))
                        AND id <= $1 AND published_at IS NULL
                    UNION ALL
                    SELECT {columns} FROM {outbox}
                    WHERE relay_xid >= pg_snapshot_xmax($2::text::pg_snapshot) AND id <= $1 AND published_at IS NULL
                ) AS candidates
                ORDER BY id LIMIT $3
            ) AS pending ON true
            ORDER BY pending.id"""

    async def read_pending(self, conn: asyncpg.Connection) -> RelayRead:
        """The oldest ``batch_size`` rows not yet published, in id order, and what the read saw."""
        found = await conn.fetch(self.pending_query, *self.position, self.batch_size)
        return RelayRead([row for row in found if row["id"] is not None], found[0]["snapshot"], found[0]["last_id"])

    def read_past(self, read: RelayRead) -> None:
        """Move the position once ``read``'s rows are published or quarantined. A full batch: every row up to its
        last id that the read's snapshot shows committed was in it (it holds the lowest ids pending) — the position
        moves to that id, backwards if the batch held only late rows. Fewer: every row that snapshot shows committed
        is now published, so the position may go anywhere; it goes to the highest id the read saw."""
        if len(read.rows) >= self.batch_size:
            self._read_through = read.rows[-1]["id"]
        else:
            self._read_through = max(self._read_through, read.last_id)
        self._seen = read.snapshot

    @property
    def position(self) -> tuple[int, str | None]:
        """``$1`` and ``$2`` of ``pending_query``: the id read through and the snapshot of the last read."""
        return self._read_through, self._seen

    async def mark_published(self, conn: asyncpg.Connection, ids: Sequence[int]) -> None:
        """A HOT update (ADR 0008): the new version on the row's page, no index entry added."""
        await conn.execute(
            f"UPDATE {self.schema}.outbox SET published_at = now() WHERE id = ANY($1::bigint[])", list(ids)
        )

    async def publish_pending(self, conn: asyncpg.Connection) -> int:
        read = await self.read_pending(conn)
        rows = read.rows
        if not rows:
            self.read_past(read)
            OUTBOX_PENDING.labels(self.service).set(0)
            return 0
        refused: list[tuple[asyncpg.Record, BaseException]] = []
        with tracer().start_as_current_span(
            f"{self.schema}.outbox publish",
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "send",
                "messaging.batch.message_count": len(rows),
            },
        ):
            sent = await self._send_in_batches(rows, refused)
            results = await asyncio.gather(*(future for _, future in sent), return_exceptions=True)
        published: list[asyncpg.Record] = []
        failed: list[tuple[asyncpg.Record, BaseException]] = []
        for (batch, _), result in zip(sent, results, strict=True):
            if isinstance(result, BaseException):
                failed += [(row, result) for row in batch]
            else:
                published += batch
        if failed:
            await self._renew_producer()
        for row, result in failed:
            if not _refusal(result):
                raise result
            # A refused producer batch fails every row in it: try each alone before blaming it.
            try:
                await (await self._send(row))
                published.append(row)
            except Exception as alone:
                if not _refusal(alone):
                    raise
                refused.append((row, alone))
                await self._renew_producer()
        for row, refusal in refused:
            await self._quarantine(conn, row, refusal)
        await self.mark_published(conn, [row["id"] for row in published])
        self.read_past(read)
        for topic, count in Counter(row["topic"] for row in published).items():
            OUTBOX_PUBLISHED.labels(self.service, topic).inc(count)
        if len(rows) < self.batch_size:
            OUTBOX_PENDING.labels(self.service).set(0)
        return len(rows)

    async def _renew_producer(self) -> None:
        """After the broker failed a batch, an idempotent producer's sequence numbers for that partition no
        longer match the broker's (every later send fails with OutOfOrderSequenceNumber): start a new producer
        (a new producer id) and stop the old one.

        The new producer replaces the old only once started: the broker failed the batch because it is away, so
        the start often fails too, and an aiokafka producer whose start failed never fetches metadata again — its
        next send waited forever and the relay stalled for good after a slow broker restart. A failed renewal is
        tried again before the next cycle sends anything (``cycle``)."""
        if self.producer_factory is None:
            return
        self._renewal_due = True
        fresh = self.producer_factory()
        try:
            await fresh.start()
        except BaseException:
            with contextlib.suppress(Exception):
                await fresh.stop()
            raise
        old, self.producer, self._renewal_due = self.producer, fresh, False
        with contextlib.suppress(Exception):
            await old.stop()

    async def _send_in_batches(
        self, rows: Sequence[asyncpg.Record], refused: list[tuple[asyncpg.Record, BaseException]]
    ) -> list[tuple[list[asyncpg.Record], asyncio.Future[Any]]]:
        """Hand the rows to the producer as record batches per topic partition, in id order (``PartitionBatches``).
        A row of ``_ALONE_BYTES`` or more goes alone through ``_send`` (which checks its size), after the rows of its
        partition before it; one the client refuses outright is added to ``refused``. Returns each batch's rows
        with the future of their acknowledgement."""
        batches: PartitionBatches[asyncpg.Record] = PartitionBatches(self.producer)
        for row in rows:
            topic, key = row["topic"], _kafka_key(row)
            partition = await batches.partition(topic, key)
            value, headers = bytes(row["payload"]), decode_headers(row["headers"])
            if len(value) + sum(len(v or b"") for _, v in headers) >= _ALONE_BYTES:
                await batches.submit(topic, partition)
                try:
                    batches.sent.append(([row], await self._send(row)))
                except Exception as exc:
                    if not _refusal(exc):
                        raise
                    refused.append((row, exc))
                continue
            await batches.add(topic, partition, row, key=key, value=value, headers=headers)
        return await batches.submit_all()

    async def _send(self, row: asyncpg.Record) -> asyncio.Future[Any]:
        """Send one row as stored: its ``traceparent`` is the span that wrote it, so the consumer's span
        continues that trace. No producer span per row (issue 12: a span cost about as much as the send
        itself); ``publish_pending`` records one span per batch."""
        future: asyncio.Future[Any] = await self.producer.send(
            row["topic"], value=bytes(row["payload"]), key=_kafka_key(row), headers=decode_headers(row["headers"])
        )
        return future

    async def _quarantine(self, conn: asyncpg.Connection, row: asyncpg.Record, exc: BaseException) -> None:
        reason = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"[:500]
        await conn.execute(
            f"""WITH moved AS (DELETE FROM {self.schema}.outbox WHERE id = $1 RETURNING *)
                INSERT INTO {self.schema}.outbox_quarantine
                    (id, event_id, topic, message_key, message_key_raw, payload, headers, created_at, reason)
                SELECT id, event_id, topic, message_key, message_key_raw, payload, headers, created_at, $2
                FROM moved""",
            row["id"],
            CONTROL_CHARACTERS.sub("?", reason),
        )
        OUTBOX_QUARANTINED.labels(self.service, row["topic"]).inc()
        log.error(
            "outbox row refused by the broker; quarantined, the rest flow on",
            schema=self.schema,
            outbox_id=row["id"],
            topic=row["topic"],
            error=type(exc).__name__,
        )

    async def _purge(self, conn: asyncpg.Connection) -> None:
        deleted = await conn.execute(
            f"DELETE FROM {self.schema}.outbox WHERE published_at < now() - make_interval(days => $1)",
            self.retention_days,
        )
        log.info("outbox purged", schema=self.schema, result=deleted)
        if self.dead_letter_retention_days is not None:
            await purge_dead_letters(conn, self.schema, self.dead_letter_retention_days)
