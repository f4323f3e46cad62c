"""Traces and metrics.

One trace follows an event across every service: the W3C ``traceparent`` travels in Kafka headers,
is stored with each outbox row and published as stored, so the next service's process span continues the
span that wrote the row (the relay records one span per published batch, not one per row: issue 12).
Span attributes name topics, partitions, offsets and event ids — never a 宛名番号 value or a My Number.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Mapping

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.propagate import extract, inject
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client import Counter, Gauge, Histogram

TRACER_NAME = "kokunen"


def configure_tracing(
    service: str,
    otlp_endpoint: str | None = None,
    exporter: SpanExporter | None = None,
    processor: SpanProcessor | None = None,
) -> TracerProvider:
    """Install a tracer provider for this process (OTLP/HTTP when an endpoint is configured)."""
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if processor is not None:
        provider.add_span_processor(processor)
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{otlp_endpoint}/v1/traces")))
    trace.set_tracer_provider(provider)
    return provider


def tracer() -> trace.Tracer:
    return _tracer_of(trace.get_tracer_provider())


@functools.lru_cache(maxsize=4)
def _tracer_of(provider: trace.TracerProvider) -> trace.Tracer:
    """One tracer per provider: asking the provider for it anew cost a third of a consumer span (issue 12)."""
    return provider.get_tracer(TRACER_NAME)


def context_from_headers(headers: Mapping[str, str]) -> otel_context.Context:
    return extract(dict(headers))


_W3C = TraceContextTextMapPropagator()


class ProcessSpan:
    """The ``CONSUMER`` span of one event's processing: a child of the event's W3C ``traceparent`` (its
    ``tracestate`` kept), current while the event is applied, ended on exit; an exception that escapes is recorded
    on it and sets its status to ERROR — what ``start_as_current_span`` does. Without its two generator context
    managers, the baggage propagator and a copy of the headers: a fifth of a span's CPU, paid five times per
    resident change along residency → eligibility → dispatch (issue 12). Its attributes are text and integers,
    put on the span as they are (``_put_attributes``)."""

    __slots__ = ("_token", "span")

    def __init__(self, name: str, headers: Mapping[str, str], attributes: Mapping[str, str | int]) -> None:
        parent = _W3C.extract(headers)
        self.span = tracer().start_span(name, context=parent, kind=SpanKind.CONSUMER)
        _put_attributes(self.span, attributes)

    def __enter__(self) -> trace.Span:
        self._token = otel_context.attach(trace.set_span_in_context(self.span))
        return self.span

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        otel_context.detach(self._token)
        if isinstance(exc, Exception) and self.span.is_recording():
            self.span.record_exception(exc)
            self.span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        self.span.end()


def _put_attributes(span: trace.Span, attributes: Mapping[str, str | int]) -> None:
    """Attributes of text and integers, put into a recording SDK span's attribute map as they are. The SDK cleans
    each value on its way in (a type walk per value, for lists and mappings, and the length limit): a quarter of
    a consumer span's CPU for values that need none (issue 12). Where the SDK limits a span's attributes
    (``OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT``, ``OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT``) or the span is another
    kind, they go through ``set_attributes`` and its checks. (The sampler does not see them: the SDK's samplers
    that ``OTEL_TRACES_SAMPLER`` names decide on the trace id and the parent alone.)"""
    held = getattr(span, "_attributes", None)
    if (
        type(held) is BoundedAttributes
        and held.max_value_len is None
        and (held.maxlen is None or len(held) + len(attributes) <= held.maxlen)
    ):
        held._dict.update(attributes)
    else:
        span.set_attributes(attributes)


def current_traceparent() -> dict[str, str]:
    """The current span's W3C trace context, as header values."""
    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier


@contextlib.contextmanager
def continuing(trace_headers: Mapping[str, str]) -> Iterator[None]:
    """Make a trace context captured earlier (``current_traceparent``) current again: a handler that gathers a
    batch and applies it at the end publishes each event's effects in that event's own trace."""
    with resumed(context_from_headers(trace_headers)):
        yield


def current_context() -> otel_context.Context:
    """The current trace context as it is, for ``resumed`` in the same process (no header round trip: a batch
    handler captures one per message)."""
    return otel_context.get_current()


@contextlib.contextmanager
def resumed(context: otel_context.Context) -> Iterator[None]:
    """Make a context captured by ``current_context`` current again (see ``continuing``)."""
    token = otel_context.attach(context)
    try:
        yield
    finally:
        otel_context.detach(token)


# --- metrics (Prometheus) ----------------------------------------------------------------------
# Labels are service, topic, partition and outcome only: never anything about a person.

MESSAGES_CONSUMED = Counter("kokunen_messages_consumed", "Messages read from Kafka", ["service", "topic"])
MESSAGES_PROCESSED = Counter(
    "kokunen_messages_processed",
    "Messages processed, by outcome (applied, duplicate, dead_lettered)",
    ["service", "topic", "outcome"],
)
HANDLER_ERRORS = Counter(
    "kokunen_handler_errors",
    "Handler failures by kind (transient: retried; poison: dead-lettered)",
    ["service", "topic", "kind"],
)
DLQ_MESSAGES = Counter("kokunen_dlq_messages", "Messages routed to a dead-letter topic", ["service", "topic"])
BATCH_SECONDS = Histogram(
    "kokunen_batch_seconds",
    "Time to apply one consumed batch (database transaction included)",
    ["service", "topic"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
CONSUMER_LAG = Gauge(
    "kokunen_consumer_lag", "Records behind the partition's high-water mark", ["service", "topic", "partition"]
)
OUTBOX_PENDING = Gauge("kokunen_outbox_pending", "Outbox rows not yet published", ["service"])
OUTBOX_PUBLISHED = Counter("kokunen_outbox_published", "Outbox rows published to Kafka", ["service", "topic"])
OUTBOX_QUARANTINED = Counter(
    "kokunen_outbox_quarantined", "Outbox rows the broker refused, moved to outbox_quarantine", ["service", "topic"]
)
POISON_MESSAGES = Counter(
    "kokunen_poison_messages",
    "Messages dead-lettered after being delivered again and again without progress",
    ["service", "topic"],
)
