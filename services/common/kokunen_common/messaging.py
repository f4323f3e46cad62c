"""Consuming events: at least once from Kafka, exactly once into the database.

For each polled batch (one partition's records stay in order):
1. every record is checked against its topic's contract (CloudEvents headers, pydantic body);
2. one transaction claims the batch in the inbox (a redelivered event is a no-op), applies each new
   event through its handler, writes the events they cause and the dead letters to the outbox;
3. only then are the Kafka offsets committed (faststream ``AckPolicy.NACK_ON_ERROR``: a failure
   seeks back and the batch is redelivered).

A record that breaks its contract, or whose handler fails for a reason that is not transient, goes
to ``<topic>.dlq`` with the reason, and the partition moves on. A transient failure (database or
broker down) is retried with backoff and never skipped.

Whatever the bytes, a record ends applied or dead-lettered (issue 13):
- faststream does not decode headers (its batch parser failed on a value that is not UTF-8 and lost the
  batch): the records reach ``decode_record`` as they are, and reading the envelope is our own tolerant step;
- a batch whose handler fails (or its ``finish_batch``, which applies a gathered batch at once) is applied
  again with a savepoint per message in the same delivery, each message then a batch of its own, and a failure
  outside any handler (storing the effects) applies its messages one by one, so one message never sends the
  batch back to Kafka;
- each delivery is counted per partition (``delivery_attempt``): a batch Kafka delivers again before the earlier
  delivery completed (the process died, or a failure outlived the retry budget) is applied one message at a
  time — one delivered again after it completed (a rebalance reset the fetch position before the offsets were
  committed) goes the batch path, its applied messages duplicates in the inbox — and a message delivered
  more than ``poison_redeliveries`` times without progress is dead-lettered as ``poison`` (metric
  ``kokunen_poison_messages``, one error log line) without running its handler again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, Generic, TypeVar

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.subscriber.usecase import BatchSubscriber
from faststream.middlewares import AckPolicy
from kokunen_contracts.envelope import EnvelopeError, Event, check_envelope, cloudevent_headers, envelope_headers
from kokunen_contracts.registry import CLEAR_MY_NUMBER_RETENTION_DAYS, DLQ_PARTITIONS, TopicSpec
from kokunen_contracts.strict import BodyError, parse_body
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from .db import is_transient, retry_transient
from .errors import describe_exception, redact
from .logs import get_logger
from .outbox import OutboxBuffer
from .settings import ServiceSettings
from .telemetry import (
    BATCH_SECONDS,
    CONSUMER_LAG,
    DLQ_MESSAGES,
    HANDLER_ERRORS,
    MESSAGES_CONSUMED,
    MESSAGES_PROCESSED,
    POISON_MESSAGES,
    ProcessSpan,
    context_from_headers,
    current_traceparent,
    tracer,
)

E = TypeVar("E", bound=Event)
log = get_logger(__name__)


@dataclass(frozen=True)
class Delivery(Generic[E]):
    """One accepted event and where it came from."""

    event: E
    event_id: uuid.UUID
    source: str
    topic: str
    partition: int
    offset: int


@dataclass
class UnitOfWork:
    """What a handler may touch: its service's connection (inside the batch transaction) and the
    outbox of events it causes."""

    conn: asyncpg.Connection
    outbox: OutboxBuffer
    batch: dict[str, Any] = field(default_factory=dict)
    """Shared by every message of one batch attempt and the handler's ``finish_batch``, for handlers that
    gather the batch and apply it at once. A message's savepoint does not undo it: add to it last."""

    def publish(self, spec: TopicSpec, event: Event, *, trace: Mapping[str, str] | None = None) -> None:
        """Queue ``event``, in the current span's trace or in ``trace`` (see ``OutboxBuffer.publish``)."""
        self.outbox.publish(spec, event, trace=trace)


Handler = Callable[[Delivery[Any], UnitOfWork], Awaitable[None]]


@dataclass(frozen=True)
class _Accepted:
    record: ConsumerRecord[bytes, bytes]
    headers: dict[str, str]
    key: str
    delivery: Delivery[Any]


@dataclass(frozen=True)
class _Rejected:
    record: ConsumerRecord[bytes, bytes]
    headers: dict[str, str]
    key: str
    reason: str
    error_class: str


def decode_record(spec: TopicSpec, record: ConsumerRecord[bytes, bytes]) -> _Accepted | _Rejected:
    """Check one record against its topic's contract (envelope, strict body, key); never raises."""
    fallback_key = f"{record.topic}/{record.partition}/{record.offset}"
    try:
        headers = envelope_headers(record.headers)
        event_id = check_envelope(headers, spec.event_type)
    except EnvelopeError as exc:
        return _Rejected(record, {}, fallback_key, redact(f"envelope: {exc}"), "envelope")
    except Exception as exc:  # whatever the bytes: a record this code cannot read is still dead-lettered
        return _Rejected(record, {}, fallback_key, f"envelope: unreadable headers ({type(exc).__name__})", "envelope")
    key = str(event_id)
    if record.value is None:
        return _Rejected(record, headers, key, "body: empty message (tombstone) on an event topic", "validation")
    try:
        event = parse_body(spec.model, record.value)
    except BodyError as exc:
        return _Rejected(record, headers, key, redact(f"body: {exc}")[:900], exc.kind)
    if event.event_id != event_id:
        return _Rejected(record, headers, key, "envelope: ce_id differs from the body's event_id", "envelope")
    problem = spec.key_problem(record.key, event)
    if problem is not None:
        return _Rejected(record, headers, key, f"key: {problem}", "key")
    delivery: Delivery[Any] = Delivery(
        event=event,
        event_id=event_id,
        source=headers["ce_source"],
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
    )
    return _Accepted(record, headers, key, delivery)


Decoded = _Accepted | _Rejected
"""A record as ``decode_record`` reads it."""


POLL_WAIT_CAP_MS = 200
"""The longest one poll of a subscription waits for records. aiokafka holds a consumer group's rebalance until the
members' polls in progress return (so that none hands out records of a partition it is losing): a poll as long as
the counter's 5 s broker hold made each of its subscriptions' joins wait for the others' polls, and the counter did
not finish starting within the demo's 70 s. The broker's hold (``fetch_max_wait_ms``) stays as set: an empty poll
costs no round trip, only a wake-up."""


def poll_promptly(subscriber: BatchSubscriber) -> None:
    """Make a batch subscription take records as soon as they are fetched (issue 12: the latency floor).

    faststream's batch subscriber polls with ``getmany(timeout_ms=batch_timeout_ms)`` — which returns as soon
    as any record is fetched — but after an empty poll it sleeps ``batch_timeout_ms`` more, and a record
    arriving meanwhile waits out the sleep: up to 100 ms at each of the chain's hops. Here an empty poll is
    followed at once by the next, each waiting up to ``batch_timeout_ms`` (``subscribe`` sets it to the broker's
    idle hold, ``CONSUMER_FETCH_MAX_WAIT_MS``, but never more than ``POLL_WAIT_CAP_MS``): a busy subscription
    never waits for a timer. A batch is still what is fetched by then, up to ``max_records`` (no waiting to fill it).
    Stopping cancels the poll (faststream cancels its consuming task), so the longer wait does not delay it."""
    max_records, wait_ms = subscriber.max_records, subscriber.batch_timeout_ms

    async def get_msg(consumer: AIOKafkaConsumer) -> tuple[ConsumerRecord[bytes, bytes], ...]:
        fetched = await consumer.getmany(timeout_ms=wait_ms, max_records=max_records)
        return tuple(chain.from_iterable(fetched.values()))

    subscriber.get_msg = get_msg  # type: ignore[method-assign]


class _Poison(Exception):
    """A handler failed for a reason that retrying will not fix."""


class EventConsumer:
    """Registers batch subscribers for one service and applies them exactly once to its schema."""

    def __init__(
        self,
        *,
        service: str,
        schema: str,
        broker: KafkaBroker,
        settings: ServiceSettings,
        pool_provider: Callable[[], asyncpg.Pool],
    ) -> None:
        self.service = service
        self.schema = schema
        self.broker = broker
        self.settings = settings
        self._pool = pool_provider
        self.source = f"/kokunen/{service}"
        self.subscriptions: list[tuple[TopicSpec, Handler]] = []

    def subscribe(self, spec: TopicSpec, handler: Handler, *, group_id: str | None = None) -> None:
        self.subscriptions.append((spec, handler))
        idle_wait_ms = self.settings.consumer_fetch_max_wait_ms

        # Offsets commit only after the batch's transaction (NACK_ON_ERROR: a failure seeks back).
        subscriber = self.broker.subscriber(
            spec.name,
            batch=True,
            group_id=group_id or self.settings.consumer_group or self.service,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,
            max_records=self.settings.consumer_max_records,
            heartbeat_interval_ms=self.settings.consumer_heartbeat_interval_ms,
            fetch_max_wait_ms=idle_wait_ms,
            batch_timeout_ms=min(idle_wait_ms, POLL_WAIT_CAP_MS),  # one poll's wait (``poll_promptly``)
            parser=_records_as_they_are,
            decoder=_raw_bodies,
            title=f"{self.service}:{spec.name}",
            description=spec.summary,
        )
        poll_promptly(subscriber)

        @subscriber
        async def consume(message: KafkaMessage) -> None:
            raw = message.raw_message
            # A batch arrives as a tuple from aiokafka and as a list from TestKafkaBroker.
            records: Sequence[ConsumerRecord[bytes, bytes]] = raw if isinstance(raw, (tuple, list)) else (raw,)
            await self.apply_batch(spec, handler, records)
            self._record_lag(message, records)

    async def apply_batch(
        self,
        spec: TopicSpec,
        handler: Handler,
        records: Sequence[ConsumerRecord[bytes, bytes]],
        *,
        decoded: list[Decoded] | None = None,
        span_per_message: bool = True,
    ) -> None:
        """Apply one delivery. ``decoded``: ``decode_record`` of each record, done ahead (a replay decodes the next
        run while the database works on this one). ``span_per_message=False`` (a replay, which publishes nothing)
        records one CONSUMER span for the batch instead of one per message; a batch applied again to find a failing
        message still has one span per message."""
        if not records:
            return
        started = time.perf_counter()
        MESSAGES_CONSUMED.labels(self.service, spec.name).inc(len(records))
        if decoded is None:
            decoded = [decode_record(spec, r) for r in records]
        budget = self.settings.transient_retry_budget_s
        what = f"apply {spec.name}"

        async def attempt(
            items: list[Decoded], isolate: bool, completes: Sequence[ConsumerRecord[bytes, bytes]] = ()
        ) -> dict[str, int]:
            async with self._pool().acquire() as conn, conn.transaction():
                if span_per_message or isolate:
                    return await self._apply(conn, spec, handler, items, isolate=isolate, completes=completes)
                with tracer().start_as_current_span(
                    f"{spec.name} process",
                    kind=SpanKind.CONSUMER,
                    attributes={**self._span_attributes(spec), "messaging.batch.message_count": len(items)},
                ):
                    return await self._apply(
                        conn, spec, handler, items, isolate=False, completes=completes, span_per_message=False
                    )

        try:
            redelivered = await retry_transient(lambda: self._count_delivery(records), budget_s=budget, what=what)
            if redelivered:
                # Kafka sent this batch before and it did not complete: one message at a time, counted.
                outcome = await self._one_by_one(spec, handler, decoded, attempt)
            else:
                try:
                    outcome = await retry_transient(
                        lambda: attempt(decoded, False, records), budget_s=budget, what=what
                    )
                except _Poison:
                    # Find the culprit(s): apply the batch again with a savepoint per message.
                    try:
                        outcome = await retry_transient(
                            lambda: attempt(decoded, True, records), budget_s=budget, what=what
                        )
                    except Exception as exc:
                        if is_transient(exc):
                            raise
                        outcome = await self._one_by_one(spec, handler, decoded, attempt, counted=False)
        except Exception as exc:
            if is_transient(exc):
                HANDLER_ERRORS.labels(self.service, spec.name, "transient").inc()
                # The outage itself is logged once by retry_transient (OUTAGES), not at every redelivery.
                log.debug("batch not applied; Kafka will redeliver it", topic=spec.name, error=type(exc).__name__)
                raise
            # A failure outside any handler (storing the batch's effects, finishing it): find the message.
            log.warning("batch failed outside its handlers; applying it one message at a time", topic=spec.name)
            outcome = await self._one_by_one(spec, handler, decoded, attempt, counted=False)
        for name, count in outcome.items():
            MESSAGES_PROCESSED.labels(self.service, spec.name, name).inc(count)
        if outcome.get("dead_lettered"):
            DLQ_MESSAGES.labels(self.service, spec.name).inc(outcome["dead_lettered"])
        BATCH_SECONDS.labels(self.service, spec.name).observe(time.perf_counter() - started)
        if self.settings.fault_exit_after_commit and outcome.get("applied"):
            # Test hook: die between the database commit and the offset commit.
            log.warning("fault injection: exiting after the database commit, before the offset commit")
            os._exit(70)

    async def _count_delivery(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> bool:
        """Count this delivery for each partition of the batch; True when one of them was delivered from the
        same offset before and that delivery did not complete (Kafka redelivers from the last committed offset,
        so the start repeats). A delivery that completed resets its count (``_completed``): the same start again
        is a rebalance that reset the fetch position before the offsets were committed, not a message the
        process dies on — the batch path applies it (its applied messages are duplicates in the inbox).

        Committed with ``synchronous_commit`` off: a count lost in a database crash only delays the verdict."""
        starts = _starts(records)
        async with self._pool().acquire() as conn:
            attempts = await conn.fetch(
                f"""INSERT INTO {self.schema}.delivery_attempt AS d (topic, partition, "offset", attempts)
                    SELECT t, p, o, 1 FROM unnest($1::text[], $2::int[], $3::bigint[]) AS x(t, p, o),
                         (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
                    ON CONFLICT (topic, partition) DO UPDATE SET
                        attempts = CASE WHEN d."offset" = excluded."offset" THEN d.attempts + 1 ELSE 1 END,
                        "offset" = excluded."offset",
                        suspect_offset = CASE WHEN d."offset" = excluded."offset" THEN d.suspect_offset END,
                        suspect_attempts = CASE WHEN d."offset" = excluded."offset" THEN d.suspect_attempts ELSE 0 END
                    RETURNING attempts""",
                [t for t, _ in starts],
                [p for _, p in starts],
                list(starts.values()),
            )
        return any(row["attempts"] > 1 for row in attempts)

    async def _complete_delivery(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """A delivery applied one message at a time has completed (see ``_count_delivery``)."""
        starts = _starts(records)
        async with self._pool().acquire() as conn:
            await conn.execute(
                f"WITH completed AS ({_completed(self.schema, 1)}) SELECT 1",
                [t for t, _ in starts],
                [p for _, p in starts],
                list(starts.values()),
            )

    async def _count_suspect(self, record: ConsumerRecord[bytes, bytes]) -> int:
        """Count a delivery of one message tried alone; how many times it has been tried so far."""
        async with self._pool().acquire() as conn:
            tries: int = await conn.fetchval(
                f"""UPDATE {self.schema}.delivery_attempt SET
                        suspect_attempts = CASE WHEN suspect_offset = $3 THEN suspect_attempts + 1 ELSE 1 END,
                        suspect_offset = $3
                    WHERE topic = $1 AND partition = $2
                    RETURNING suspect_attempts""",
                record.topic,
                record.partition,
                record.offset,
            )
        return tries or 1

    async def _one_by_one(
        self,
        spec: TopicSpec,
        handler: Handler,
        decoded: list[_Accepted | _Rejected],
        attempt: Callable[[list[_Accepted | _Rejected], bool], Awaitable[dict[str, int]]],
        *,
        counted: bool = True,
    ) -> dict[str, int]:
        """Each message in its own transaction (a savepoint around its handler). ``counted``: each try of a
        message is counted first, and one tried more than ``poison_redeliveries`` times is dead-lettered as
        poison without running its handler (it may be what kills the process)."""
        outcome = {"applied": 0, "duplicate": 0, "dead_lettered": 0}
        async with self._pool().acquire() as conn:
            claimed = set(
                await conn.fetchval(
                    f"SELECT coalesce(array_agg(message_key), '{{}}') FROM {self.schema}.inbox "
                    "WHERE message_key = ANY($1::text[])",
                    [d.key for d in decoded],
                )
            )
        for item in decoded:
            if item.key in claimed:
                outcome["duplicate"] += 1
                continue
            claimed.add(item.key)
            for name, count in (await self._apply_alone(spec, item, attempt, counted=counted)).items():
                outcome[name] += count
        records = [item.record for item in decoded]
        budget = self.settings.transient_retry_budget_s
        await retry_transient(lambda: self._complete_delivery(records), budget_s=budget, what=f"apply {spec.name}")
        return outcome

    async def _apply_alone(
        self,
        spec: TopicSpec,
        item: _Accepted | _Rejected,
        attempt: Callable[[list[_Accepted | _Rejected], bool], Awaitable[dict[str, int]]],
        *,
        counted: bool,
    ) -> dict[str, int]:
        budget = self.settings.transient_retry_budget_s
        what = f"apply {spec.name} one by one"
        tries = 1
        if counted:
            tries = await retry_transient(lambda: self._count_suspect(item.record), budget_s=budget, what=what)
        if tries > self.settings.poison_redeliveries:
            reason = f"poison: delivered {tries} times without completing; its handler was not run again"
            error: str | None = None
        else:
            try:
                return await retry_transient(lambda: attempt([item], True), budget_s=budget, what=what)
            except Exception as exc:
                if is_transient(exc):
                    raise
                reason = f"poison: the message could not be stored: {describe_exception(exc)}"
                error = type(exc).__name__
        result = await retry_transient(
            lambda: self._dead_letter_alone(spec, item, reason, "poison"), budget_s=budget, what=what
        )
        POISON_MESSAGES.labels(self.service, spec.name).inc()
        log.error(
            "poison message dead-lettered",
            topic=spec.name,
            partition=item.record.partition,
            offset=item.record.offset,
            deliveries=tries,
            error=error,
        )
        return result

    async def _dead_letter_alone(
        self, spec: TopicSpec, item: _Accepted | _Rejected, reason: str, error_class: str
    ) -> dict[str, int]:
        """Claim one message and dead-letter it, without its handler."""
        async with self._pool().acquire() as conn, conn.transaction():
            claimed = await conn.fetchval(
                f"""INSERT INTO {self.schema}.inbox (message_key, topic, partition, "offset") VALUES ($1, $2, $3, $4)
                    ON CONFLICT DO NOTHING RETURNING true""",
                item.key,
                item.record.topic,
                item.record.partition,
                item.record.offset,
            )
            if not claimed:
                return {"duplicate": 1}
            outbox = OutboxBuffer(schema=self.schema, source=self.source)
            self._dead_letter(outbox, spec, item.record, reason, error_class)
            await outbox.flush(conn)
        return {"dead_lettered": 1}

    async def _apply(
        self,
        conn: asyncpg.Connection,
        spec: TopicSpec,
        handler: Handler,
        decoded: list[_Accepted | _Rejected],
        *,
        isolate: bool,
        completes: Sequence[ConsumerRecord[bytes, bytes]] = (),
        span_per_message: bool = True,
    ) -> dict[str, int]:
        """Claim, apply and store ``decoded`` in the caller's transaction; ``completes``: the records of the
        delivery this transaction completes (its count is reset with it, in the same statement as the claim);
        ``span_per_message=False``: the messages are applied in the caller's (batch) span."""
        outbox = OutboxBuffer(schema=self.schema, source=self.source)
        scratch: dict[str, Any] = {}
        starts = _starts(completes)
        fresh = set(
            await conn.fetchval(
                f"""WITH claimed AS (
                        INSERT INTO {self.schema}.inbox (message_key, topic, partition, "offset")
                        SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[])
                        ON CONFLICT DO NOTHING RETURNING message_key),
                    completed AS ({_completed(self.schema, 5)})
                    SELECT coalesce(array_agg(message_key), '{{}}') FROM claimed""",
                [d.key for d in decoded],
                [d.record.topic for d in decoded],
                [d.record.partition for d in decoded],
                [d.record.offset for d in decoded],
                [t for t, _ in starts],
                [p for _, p in starts],
                list(starts.values()),
            )
        )
        outcome = {"applied": 0, "duplicate": 0, "dead_lettered": 0}
        # A handler may gather the batch (UnitOfWork.batch) and apply it set-based at the end, in the same
        # transaction (e.g. tax_sync stages assessments, then one SQL path applies them): its ``finish_batch``.
        # Isolated, each message is a batch of its own, finished in its savepoint: what fails is that message's.
        finish_batch = getattr(handler, "finish_batch", None)
        span_name = f"{spec.name} process"
        span_attributes = self._span_attributes(spec)
        for item in decoded:
            if item.key not in fresh:
                outcome["duplicate"] += 1
                continue
            fresh.discard(item.key)  # the same event twice in one batch applies once
            if isinstance(item, _Rejected):
                # In the sender's trace, so the rejection (and its log line) shows where the message came from.
                with tracer().start_as_current_span(
                    f"{spec.name} reject", context=context_from_headers(item.headers), kind=SpanKind.CONSUMER
                ):
                    self._dead_letter(outbox, spec, item.record, item.reason, item.error_class)
                outcome["dead_lettered"] += 1
                continue
            with (
                ProcessSpan(
                    span_name,
                    item.headers,
                    {
                        **span_attributes,
                        "messaging.message.id": item.key,  # the event id, as text
                        "messaging.kafka.destination.partition": item.record.partition,
                        "messaging.kafka.offset": item.record.offset,
                    },
                )
                if span_per_message
                else contextlib.nullcontext(trace.get_current_span())
            ) as span:
                if not isolate:
                    try:
                        await handler(item.delivery, UnitOfWork(conn, outbox, scratch))
                    except Exception as exc:
                        if is_transient(exc):
                            raise
                        span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                        raise _Poison from exc
                    outcome["applied"] += 1
                    continue
                mark = outbox.mark()
                try:
                    async with conn.transaction():  # a savepoint: undo this message alone
                        await handler(item.delivery, UnitOfWork(conn, outbox, scratch))
                        if finish_batch is not None:
                            await finish_batch(UnitOfWork(conn, outbox, scratch))
                    outcome["applied"] += 1
                except Exception as exc:
                    if is_transient(exc):
                        raise
                    outbox.rollback_to(mark)
                    reason = f"handler: {describe_exception(exc)}"
                    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                    HANDLER_ERRORS.labels(self.service, spec.name, "handler").inc()
                    log.error(
                        "message dead-lettered",
                        topic=spec.name,
                        partition=item.record.partition,
                        offset=item.record.offset,
                        event_id=str(item.delivery.event_id),
                        reason=reason,
                    )
                    self._dead_letter(outbox, spec, item.record, reason, "handler")
                    outcome["dead_lettered"] += 1
        if finish_batch is not None and not isolate:
            try:
                await finish_batch(UnitOfWork(conn, outbox, scratch))
            except Exception as exc:
                if is_transient(exc):
                    raise
                raise _Poison from exc  # find the message: the batch again, each message finished alone
        await outbox.flush(conn)
        return outcome

    def _span_attributes(self, spec: TopicSpec) -> dict[str, str | int]:
        return {
            "messaging.system": "kafka",
            "messaging.destination.name": spec.name,
            "messaging.operation.type": "process",
            "messaging.consumer.group.name": self.settings.consumer_group or self.service,
        }

    def _dead_letter(
        self, outbox: OutboxBuffer, spec: TopicSpec, record: ConsumerRecord[bytes, bytes], reason: str, error_class: str
    ) -> None:
        log.warning(
            "message rejected to the dead-letter topic",
            topic=spec.name,
            partition=record.partition,
            offset=record.offset,
            error_class=error_class,
            reason=reason,
        )
        outbox.dead_letter(
            spec,
            key=record.key,
            value=record.value,
            headers=list(record.headers or ()),
            reason=reason,
            error_class=error_class,
            partition=record.partition,
            offset=record.offset,
        )

    def _record_lag(self, message: Any, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        consumer = getattr(message, "consumer", None)
        if consumer is None or not hasattr(consumer, "highwater"):
            return
        last: dict[tuple[str, int], int] = {}
        for r in records:
            last[(r.topic, r.partition)] = max(r.offset, last.get((r.topic, r.partition), -1))
        for (topic, partition), offset in last.items():
            highwater = consumer.highwater(TopicPartition(topic, partition))
            if highwater is not None:
                CONSUMER_LAG.labels(self.service, topic, str(partition)).set(max(0, highwater - offset - 1))


def _completed(schema: str, first: int) -> str:
    """SQL: a delivery (its start offset per partition, parameters ``first`` to ``first + 2``) completed; Kafka
    delivering the same start again is then not suspect."""
    return f"""UPDATE {schema}.delivery_attempt AS d SET attempts = 0
               FROM unnest(${first}::text[], ${first + 1}::int[], ${first + 2}::bigint[]) AS s(t, p, o)
               WHERE d.topic = s.t AND d.partition = s.p AND d."offset" = s.o RETURNING 1"""


def _starts(records: Sequence[ConsumerRecord[bytes, bytes]]) -> dict[tuple[str, int], int]:
    """The first offset of each partition in a delivery."""
    starts: dict[tuple[str, int], int] = {}
    for r in records:
        starts[(r.topic, r.partition)] = min(r.offset, starts.get((r.topic, r.partition), r.offset))
    return starts


async def _records_as_they_are(records: Any, default_parser: Callable[[Any], Awaitable[Any]]) -> Any:
    """faststream's batch parser decodes every header as UTF-8 and fails the whole batch on one that is not
    (or has no value), before any of our code runs. It gets the records without headers (it only reads
    reply_to and correlation ids from them); the message keeps the records as they came."""
    batch = records if isinstance(records, (tuple, list)) else (records,)
    message = await default_parser(type(batch)(dataclasses.replace(r, headers=[]) for r in batch))
    message.raw_message = records
    return message


async def _raw_bodies(message: Any) -> Any:
    # Bodies are checked against the contract by decode_record; faststream must not parse them.
    return message.body


# --- Kafka clients -----------------------------------------------------------------------------


def kafka_client_kwargs(settings: ServiceSettings) -> dict[str, Any]:
    """Connection options shared by producers, consumers and admin clients."""
    kwargs: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_list,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        kwargs["ssl_context"] = ssl.create_default_context(cafile=settings.kafka_ssl_cafile)
    if settings.kafka_sasl_mechanism:
        kwargs["sasl_mechanism"] = settings.kafka_sasl_mechanism
        kwargs["sasl_plain_username"] = settings.kafka_sasl_username
        kwargs["sasl_plain_password"] = (
            settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else None
        )
    return kwargs


def idempotent_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    """acks=all and idempotence: a retried send is not written twice and keeps per-partition order."""
    return AIOKafkaProducer(
        **kafka_client_kwargs(settings),
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        max_batch_size=512 * 1024,
        request_timeout_ms=30_000,
    )


async def ensure_topics(
    settings: ServiceSettings,
    specs: Sequence[TopicSpec],
    replication_factor: int | None = None,
    clear_my_number_retention_days: int = CLEAR_MY_NUMBER_RETENTION_DAYS,
) -> list[str]:
    """Create the registry's topics and their dead-letter topics where missing; returns those created.

    ``replication_factor`` defaults to the cluster's own ``default.replication.factor``: 1 on one broker, 3 on
    ``localstack.py up --brokers 3`` (issue 13 item 5), so ``prepare`` without the option fits the cluster.
    Topics that carry My Numbers in clear (and their dead-letter topics) get a finite retention, also when
    they exist already (a changed setting applies on the next ``prepare``); each change is logged."""
    admin = AIOKafkaAdminClient(**kafka_client_kwargs(settings))
    await admin.start()
    created: list[str] = []
    try:
        if replication_factor is None:
            replication_factor = await cluster_replication_factor(admin)
        existing = set(await admin.list_topics())
        wanted: list[NewTopic] = []
        for spec in specs:
            topic_ms, dlq_ms = spec.retention(clear_my_number_retention_days)
            config = {"retention.ms": str(topic_ms), **spec.extra_config}
            if spec.name not in existing:
                wanted.append(NewTopic(spec.name, spec.partitions, replication_factor, topic_configs=config))
            if spec.dlq not in existing:
                wanted.append(
                    NewTopic(spec.dlq, DLQ_PARTITIONS, replication_factor, topic_configs={"retention.ms": str(dlq_ms)})
                )
            if spec.clear_my_number:
                retained = [(spec.name, topic_ms), (spec.dlq, dlq_ms)]
                await admin.alter_configs(
                    [
                        ConfigResource(ConfigResourceType.TOPIC, name, configs={"retention.ms": str(ms)})
                        for name, ms in retained
                        if name in existing
                    ]
                )
                log.info("clear My Number retention", topics=[n for n, _ in retained], retention_ms=topic_ms)
        for new_topic in wanted:
            try:
                await admin.create_topics([new_topic])
                created.append(new_topic.name)
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()
    return created


async def cluster_replication_factor(admin: AIOKafkaAdminClient) -> int:
    """The ``default.replication.factor`` the cluster's brokers are configured with."""
    broker = (await admin.describe_cluster())["brokers"][0]["node_id"]
    responses = await admin.describe_configs([ConfigResource(ConfigResourceType.BROKER, str(broker))])
    for response in responses:
        for resource in response.resources:
            for name, value, *_ in resource[4]:
                if name == "default.replication.factor":
                    return int(value)
    raise RuntimeError(f"broker {broker} did not report its default.replication.factor")


async def publish_events(producer: AIOKafkaProducer, spec: TopicSpec, events: Sequence[Event], *, source: str) -> None:
    """Publish events straight to a topic with the CloudEvents envelope (for upstream adapters,
    demos and tests; services publish through their outbox)."""
    futures = []
    trace_headers = current_traceparent()
    for event in events:
        headers = cloudevent_headers(
            event,
            source=source,
            traceparent=trace_headers.get("traceparent"),
            tracestate=trace_headers.get("tracestate"),
        )
        futures.append(
            await producer.send(
                spec.name, value=event.model_dump_json().encode(), key=spec.key_of(event).encode(), headers=headers
            )
        )
    for future in futures:
        await future
