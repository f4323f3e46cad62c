"""The envelope every event travels in.

Kafka headers carry the CloudEvents 1.0 attributes in the Kafka protocol binding's binary mode
(``ce_id``, ``ce_type``, ``ce_source``, ``ce_time``, ``ce_specversion``, ``content-type``) and the W3C
trace context (``traceparent``, ``tracestate``). The JSON body is the contract's pydantic model, which
itself carries the event id, the effective date (異動日 / 効力発生日) and the recorded time, so that a
body stored on its own (an inbox row, a golden example, a file) still says what it is.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"

H_ID = "ce_id"
H_TYPE = "ce_type"
H_SOURCE = "ce_source"
H_TIME = "ce_time"
H_SPECVERSION = "ce_specversion"
H_CONTENT_TYPE = "content-type"
H_TRACEPARENT = "traceparent"
H_TRACESTATE = "tracestate"

REQUIRED_HEADERS = (H_ID, H_TYPE, H_SOURCE, H_TIME, H_SPECVERSION)


class ContractModel(BaseModel):
    """Base of every contract model: producers forbid unknown fields (a typo is an error, not data).

    Consumers validate with ``extra="ignore"`` (see ``decode``) so that an additive optional field
    of the same version does not break them.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class Event(ContractModel):
    """Fields common to every event body."""

    event_type: ClassVar[str]
    """CloudEvents ``type``, e.g. ``jp.kokunen.residency.resident-changed.v1``; set by each model."""

    event_id: uuid.UUID = Field(description="イベントID (event id): unique per event; consumers dedupe on it")
    effective_date: date = Field(description="効力発生日 (effective date): when the fact is true in law")
    recorded_at: AwareDatetime = Field(description="記録日時 (recorded time): when the producer learned it")


def new_event_id() -> uuid.UUID:
    return uuid.uuid4()


def now() -> datetime:
    return datetime.now(UTC)


def cloudevent_headers(
    event: Event,
    *,
    source: str,
    traceparent: str | None = None,
    tracestate: str | None = None,
) -> list[tuple[str, bytes]]:
    """Kafka headers for ``event`` (binary content mode of the CloudEvents Kafka binding)."""
    headers = [
        (H_SPECVERSION, SPEC_VERSION.encode()),
        (H_ID, str(event.event_id).encode()),
        (H_TYPE, event.event_type.encode()),
        (H_SOURCE, source.encode()),
        (H_TIME, event.recorded_at.isoformat().encode()),
        (H_CONTENT_TYPE, CONTENT_TYPE.encode()),
    ]
    if traceparent:
        headers.append((H_TRACEPARENT, traceparent.encode()))
    if tracestate:
        headers.append((H_TRACESTATE, tracestate.encode()))
    return headers


def header_map(headers: Iterable[tuple[str, bytes | None]] | None) -> dict[str, str]:
    """Decode Kafka headers into a str map (the last value of a repeated key wins; bytes that are not
    UTF-8 become U+FFFD). For display and trace context; ``envelope_headers`` is the strict reading."""
    result: dict[str, str] = {}
    for key, value in headers or ():
        if value is None:
            continue
        result[key] = value.decode("utf-8", errors="replace")
    return result


_ENVELOPE_HEADERS = frozenset((*REQUIRED_HEADERS, H_CONTENT_TYPE, H_TRACEPARENT, H_TRACESTATE))
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def envelope_headers(headers: Iterable[tuple[str, bytes | None]] | None) -> dict[str, str]:
    """The Kafka headers as text, refusing (``EnvelopeError``) an envelope header that is repeated, has no
    value, is not UTF-8 or holds a control character. Other headers are not ours to judge: they are decoded
    leniently (as ``header_map`` does). Never fails on anything else, whatever the bytes. One pass over the
    headers (read for every message: issue 12)."""
    result: dict[str, str] = {}
    for key, value in headers or ():
        if key not in _ENVELOPE_HEADERS:
            if value is not None:
                result[key] = value.decode("utf-8", errors="replace")
            continue
        if key in result:
            raise EnvelopeError(f"header {key} is repeated")
        if value is None:
            raise EnvelopeError(f"header {key} has no value")
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            raise EnvelopeError(f"header {key} is not UTF-8") from None
        # ASCII (every envelope value we write) is free of controls exactly when printable: no regex needed.
        if (not text.isprintable()) if text.isascii() else _CONTROL.search(text):
            raise EnvelopeError(f"header {key} contains a control character")
        result[key] = text
    return result


class EnvelopeError(ValueError):
    """The Kafka headers do not form a valid CloudEvents envelope for this topic."""


def check_envelope(headers: Mapping[str, str], expected_type: str) -> uuid.UUID:
    """Check the CloudEvents headers against the topic's contract and return the event id."""
    missing = [h for h in REQUIRED_HEADERS if not headers.get(h)]
    if missing:
        raise EnvelopeError(f"missing CloudEvents header(s): {', '.join(missing)}")
    if headers[H_SPECVERSION] != SPEC_VERSION:
        raise EnvelopeError(f"unsupported ce_specversion {headers[H_SPECVERSION]!r}; expected {SPEC_VERSION}")
    if headers[H_TYPE] != expected_type:
        raise EnvelopeError(f"ce_type {headers[H_TYPE]!r} does not belong on this topic; expected {expected_type!r}")
    try:
        return uuid.UUID(headers[H_ID])
    except ValueError:
        raise EnvelopeError("ce_id is not a UUID") from None
