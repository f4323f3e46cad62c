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
"""

from __future__ import annotations

import os
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import asyncpg
from aiokafka import AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy
from kokunen_contracts.envelope import EnvelopeError, Event, check_envelope, cloudevent_headers, header_map
from kokunen_contracts.registry import DLQ_PARTITIONS, TopicSpec
from opentelemetry.trace import SpanKind, Status, StatusCode
from pydantic import ValidationError

from .db import is_transient, retry_transient
from .errors import describe_exception, describe_validation_error
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

    def publish(self, spec: TopicSpec, event: Event) -> None:
        self.outbox.publish(spec, event)


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
    """Check one record against its topic's contract; never raises."""
    headers = header_map(record.headers)
    fallback_key = f"{record.topic}/{record.partition}/{record.offset}"
    try:
        event_id = check_envelope(headers, spec.event_type)
    except EnvelopeError as exc:
        return _Rejected(record, headers, fallback_key, f"envelope: {exc}", "envelope")
    key = str(event_id)
    if record.value is None:
        return _Rejected(record, headers, key, "body: empty message (tombstone) on an event topic", "validation")
    try:
        event = spec.model.model_validate_json(record.value, extra="ignore")
    except ValidationError as exc:
        kind = "malformed_json" if any(e["type"] == "json_invalid" for e in exc.errors()) else "validation"
        if kind == "malformed_json" and not _is_utf8(record.value):
            # Say so plainly: upstream systems in Japan still send Shift_JIS / CP932 by mistake.
            return _Rejected(record, headers, key, "body: not UTF-8 (wrong encoding, e.g. Shift_JIS)", "encoding")
        return _Rejected(record, headers, key, f"body: {describe_validation_error(exc)}", kind)
    if event.event_id != event_id:
        return _Rejected(record, headers, key, "envelope: ce_id differs from the body's event_id", "envelope")
    delivery: Delivery[Any] = Delivery(
        event=event,
        event_id=event_id,
        source=headers["ce_source"],
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
    )
    return _Accepted(record, headers, key, delivery)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


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

        # Offsets commit only after the batch's transaction (NACK_ON_ERROR: a failure seeks back).
        @self.broker.subscriber(
            spec.name,
            batch=True,
            group_id=group_id or self.settings.consumer_group or self.service,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,
            max_records=self.settings.consumer_max_records,
            batch_timeout_ms=100,
            decoder=_raw_bodies,
            title=f"{self.service}:{spec.name}",
            description=spec.summary,
        )
        async def consume(message: KafkaMessage) -> None:
            raw = message.raw_message
            # A batch arrives as a tuple from aiokafka and as a list from TestKafkaBroker.
            records: Sequence[ConsumerRecord[bytes, bytes]] = raw if isinstance(raw, (tuple, list)) else (raw,)
            await self.apply_batch(spec, handler, records)
            self._record_lag(message, records)

    async def apply_batch(
        self, spec: TopicSpec, handler: Handler, records: Sequence[ConsumerRecord[bytes, bytes]]
    ) -> None:
        if not records:
            return
        started = time.perf_counter()
        MESSAGES_CONSUMED.labels(self.service, spec.name).inc(len(records))
        decoded = [decode_record(spec, r) for r in records]
        budget = self.settings.transient_retry_budget_s

        async def attempt(isolate: bool) -> dict[str, int]:
            async with self._pool().acquire() as conn, conn.transaction():
                return await self._apply(conn, spec, handler, decoded, isolate=isolate)

        try:
            outcome = await retry_transient(lambda: attempt(False), budget_s=budget, what=f"apply {spec.name}")
        except _Poison:
            # Find the culprit(s): replay the batch with a savepoint per message.
            outcome = await retry_transient(lambda: attempt(True), budget_s=budget, what=f"apply {spec.name}")
        except Exception as exc:
            if is_transient(exc):
                HANDLER_ERRORS.labels(self.service, spec.name, "transient").inc()
                log.warning("batch not applied; Kafka will redeliver it", topic=spec.name, error=type(exc).__name__)
            raise
        for name, count in outcome.items():
            MESSAGES_PROCESSED.labels(self.service, spec.name, name).inc(count)
        if outcome.get("dead_lettered"):
            DLQ_MESSAGES.labels(self.service, spec.name).inc(outcome["dead_lettered"])
        BATCH_SECONDS.labels(self.service, spec.name).observe(time.perf_counter() - started)
        if self.settings.fault_exit_after_commit and outcome.get("applied"):
            # Test hook: die between the database commit and the offset commit.
            log.warning("fault injection: exiting after the database commit, before the offset commit")
            os._exit(70)

    async def _apply(
        self,
        conn: asyncpg.Connection,
        spec: TopicSpec,
        handler: Handler,
        decoded: list[_Accepted | _Rejected],
        *,
        isolate: bool,
    ) -> dict[str, int]:
        outbox = OutboxBuffer(schema=self.schema, source=self.source)
        scratch: dict[str, Any] = {}
        fresh = set(
            await conn.fetchval(
                f"""WITH claimed AS (
                        INSERT INTO {self.schema}.inbox (message_key, topic, partition, "offset")
                        SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[])
                        ON CONFLICT DO NOTHING RETURNING message_key)
                    SELECT coalesce(array_agg(message_key), '{{}}') FROM claimed""",
                [d.key for d in decoded],
                [d.record.topic for d in decoded],
                [d.record.partition for d in decoded],
                [d.record.offset for d in decoded],
            )
        )
        outcome = {"applied": 0, "duplicate": 0, "dead_lettered": 0}
        for item in decoded:
            if item.key not in fresh:
                outcome["duplicate"] += 1
                continue
            fresh.discard(item.key)  # the same event twice in one batch applies once
            if isinstance(item, _Rejected):
                self._dead_letter(outbox, spec, item.record, item.reason, item.error_class)
                outcome["dead_lettered"] += 1
                continue
            with tracer().start_as_current_span(
                f"{spec.name} process",
                context=context_from_headers(item.headers),
                kind=SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.destination.name": spec.name,
                    "messaging.operation.type": "process",
                    "messaging.message.id": str(item.delivery.event_id),
                    "messaging.kafka.destination.partition": item.record.partition,
                    "messaging.kafka.offset": item.record.offset,
                    "messaging.consumer.group.name": self.settings.consumer_group or self.service,
                },
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
                    outcome["applied"] += 1
                except Exception as exc:
                    if is_transient(exc):
                        raise
                    outbox.rollback_to(mark)
                    reason = f"handler: {describe_exception(exc)}"
                    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                    HANDLER_ERRORS.labels(self.service, spec.name, "poison").inc()
                    log.error(
                        "message dead-lettered",
                        topic=spec.name,
                        partition=item.record.partition,
                        offset=item.record.offset,
                        event_id=str(item.delivery.event_id),
                        reason=reason,
                    )
                    self._dead_letter(outbox, spec, item.record, reason, "poison")
                    outcome["dead_lettered"] += 1
        # A handler may gather the batch (UnitOfWork.batch) and apply it set-based at the end, in the same
        # transaction (e.g. tax_sync stages assessments, then one SQL path applies them): its ``finish_batch``.
        finish_batch = getattr(handler, "finish_batch", None)
        if finish_batch is not None:
            await finish_batch(UnitOfWork(conn, outbox, scratch))
        await outbox.flush(conn)
        return outcome

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


async def _raw_bodies(message: Any) -> Any:
    # Bodies are checked against the contract by decode_record; faststream must not parse them.
    return message.body


# --- Kafka clients -----------------------------------------------------------------------------


def kafka_client_kwargs(settings: ServiceSettings) -> dict[str, Any]:
    """Connection options shared by producers, consumers and admin clients."""
    kwargs: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
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
    settings: ServiceSettings, specs: Sequence[TopicSpec], replication_factor: int = 1
) -> list[str]:
    """Create the registry's topics and their dead-letter topics where missing; returns those created."""
    admin = AIOKafkaAdminClient(**kafka_client_kwargs(settings))
    await admin.start()
    created: list[str] = []
    try:
        existing = set(await admin.list_topics())
        wanted: list[NewTopic] = []
        for spec in specs:
            config = {"retention.ms": str(spec.retention_ms), **spec.extra_config}
            if spec.name not in existing:
                wanted.append(NewTopic(spec.name, spec.partitions, replication_factor, topic_configs=config))
            if spec.dlq not in existing:
                wanted.append(
                    NewTopic(spec.dlq, DLQ_PARTITIONS, replication_factor, topic_configs={"retention.ms": "-1"})
                )
        for new_topic in wanted:
            try:
                await admin.create_topics([new_topic])
                created.append(new_topic.name)
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()
    return created


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
