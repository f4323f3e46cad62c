"""The consumer's span of one event (``ProcessSpan``) is what ``start_as_current_span`` made: a CONSUMER child of
the event's W3C ``traceparent``, current while the event is applied, an escaping failure recorded on it."""

from __future__ import annotations

from typing import Any

import pytest
from kokunen_common.telemetry import ProcessSpan, _put_attributes, current_traceparent
from opentelemetry import trace
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.trace import SpanKind, StatusCode

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
HEADERS = {"ce_id": "e", "traceparent": PARENT, "tracestate": "city=saitama"}


def test_the_span_continues_the_events_trace_and_is_current_while_it_is_applied(spans: Any) -> None:
    with ProcessSpan("t process", HEADERS, {"messaging.kafka.offset": 7}) as span:
        inside = current_traceparent()
    (finished,) = spans.get_finished_spans()
    assert finished.context == span.get_span_context()
    assert finished.kind is SpanKind.CONSUMER
    assert format(finished.context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"
    assert format(finished.parent.span_id, "016x") == "b7ad6b7169203331"
    assert finished.parent.is_remote
    assert finished.context.trace_state.get("city") == "saitama"
    assert finished.attributes == {"messaging.kafka.offset": 7}
    # What the handler publishes while the span is current continues this span.
    assert inside["traceparent"] == f"00-0af7651916cd43dd8448eb211c80319c-{finished.context.span_id:016x}-01"
    assert current_traceparent().get("traceparent") != inside["traceparent"]  # no longer current


def test_a_message_without_trace_context_starts_its_own_trace(spans: Any) -> None:
    with ProcessSpan("t process", {"ce_id": "e", "traceparent": "not-a-traceparent"}, {}):
        pass
    (finished,) = spans.get_finished_spans()
    assert finished.parent is None


def test_a_failure_that_escapes_is_recorded_and_the_span_still_ends(spans: Any) -> None:
    with pytest.raises(ValueError, match="bad record"), ProcessSpan("t process", HEADERS, {}):
        raise ValueError("bad record")
    (finished,) = spans.get_finished_spans()
    assert finished.status.status_code is StatusCode.ERROR
    assert finished.status.description == "ValueError: bad record"
    assert [e.name for e in finished.events] == ["exception"]
    assert finished.end_time is not None


def test_attributes_are_put_as_they_are_within_the_sdks_limits_and_through_its_checks_beyond() -> None:
    attributes = {"messaging.destination.name": "residency.person-changed.v1", "messaging.kafka.offset": 7}
    unlimited = TracerProvider().get_tracer("t").start_span("t process")
    _put_attributes(unlimited, attributes)
    assert dict(unlimited.attributes or {}) == attributes
    few = TracerProvider(span_limits=SpanLimits(max_span_attributes=1)).get_tracer("t").start_span("t process")
    _put_attributes(few, attributes)
    assert dict(few.attributes or {}) == {"messaging.kafka.offset": 7}  # one kept, the SDK's way (the newest)
    short = TracerProvider(span_limits=SpanLimits(max_span_attribute_length=4)).get_tracer("t").start_span("t")
    _put_attributes(short, attributes)
    assert dict(short.attributes or {}) == {"messaging.destination.name": "resi", "messaging.kafka.offset": 7}
    _put_attributes(trace.NonRecordingSpan(trace.INVALID_SPAN_CONTEXT), attributes)  # a sampled-out span: nothing
