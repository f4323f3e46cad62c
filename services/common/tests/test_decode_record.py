"""A record is checked against its topic's contract before any handler sees it; every way it can be
wrong gives a specific reason (and never the personal data that was wrong)."""

from __future__ import annotations

import json
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from kokunen_common.messaging import _Accepted, _Rejected, decode_record
from kokunen_contracts.envelope import cloudevent_headers
from kokunen_contracts.registry import PERSON_CHANGED, RESIDENT_CHANGED
from kokunen_contracts.residency import ResidentChanged

EXAMPLE = (
    Path(__file__).resolve().parents[3] / "contracts" / "examples" / "residency.resident-changed.v1" / "death.json"
)


def record(value: bytes | None, headers: list[tuple[str, bytes]], offset: int = 5) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic=RESIDENT_CHANGED.name,
        partition=2,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=b"0001234567",
        value=value,
        checksum=None,
        serialized_key_size=10,
        serialized_value_size=len(value or b""),
        headers=headers,
    )


def event() -> ResidentChanged:
    return ResidentChanged.model_validate_json(EXAMPLE.read_text())


def good_headers(e: Any) -> list[tuple[str, bytes]]:
    return cloudevent_headers(e, source="/test")


def test_a_valid_record_is_accepted_with_its_event_id() -> None:
    e = event()
    decoded = decode_record(RESIDENT_CHANGED, record(e.model_dump_json().encode(), good_headers(e)))
    assert isinstance(decoded, _Accepted)
    assert decoded.key == str(e.event_id)
    assert decoded.delivery.event.reason.value == "death"


def test_an_additive_field_of_the_same_version_is_tolerated() -> None:
    e = event()
    body = json.loads(e.model_dump_json())
    body["added_later"] = {"x": 1}
    assert isinstance(decode_record(RESIDENT_CHANGED, record(json.dumps(body).encode(), good_headers(e))), _Accepted)


@pytest.mark.parametrize(
    ("mutate", "error_class", "reason"),
    [
        (lambda v, h: (b"{not json", h), "malformed_json", "Invalid JSON"),
        (lambda v, h: (v, [x for x in h if x[0] != "ce_id"]), "envelope", "missing CloudEvents header(s): ce_id"),
        (lambda v, h: (v, [(k, b"jp.other.v1" if k == "ce_type" else x) for k, x in h]), "envelope", "does not belong"),
        (lambda v, h: (v, [(k, b"0.3" if k == "ce_specversion" else x) for k, x in h]), "envelope", "ce_specversion"),
        (
            lambda v, h: (v, [(k, str(uuid.uuid4()).encode() if k == "ce_id" else x) for k, x in h]),
            "envelope",
            "ce_id differs",
        ),
        (lambda v, h: (None, h), "validation", "tombstone"),
        (lambda v, h: (v.replace(b'"reason":"death"', b'"reason":"teleported"'), h), "validation", "reason"),
        (lambda v, h: (v.replace(b'"123456789018"', b'"123456789012"'), h), "validation", "check digit"),
    ],
    ids=[
        "malformed-json",
        "no-event-id",
        "wrong-type",
        "old-spec",
        "id-mismatch",
        "tombstone",
        "unknown-reason",
        "bad-my-number",
    ],
)
def test_each_kind_of_bad_record_is_rejected_with_a_specific_reason(mutate, error_class: str, reason: str) -> None:
    e = event()
    value, headers = mutate(e.model_dump_json().encode(), good_headers(e))
    decoded = decode_record(RESIDENT_CHANGED, record(value, headers))
    assert isinstance(decoded, _Rejected)
    assert decoded.error_class == error_class
    assert reason in decoded.reason
    assert "123456789012" not in decoded.reason
    assert "123456789018" not in decoded.reason


def test_a_record_without_a_readable_event_id_is_deduplicated_by_its_position() -> None:
    e = event()
    decoded = decode_record(RESIDENT_CHANGED, record(b"{}", [], offset=77))
    assert isinstance(decoded, _Rejected)
    assert decoded.key == f"{RESIDENT_CHANGED.name}/2/77"
    assert e.effective_date == date(2026, 11, 10)


def test_a_record_on_the_wrong_topic_contract_is_rejected() -> None:
    e = event()
    decoded = decode_record(PERSON_CHANGED, record(e.model_dump_json().encode(), good_headers(e)))
    assert isinstance(decoded, _Rejected)
    assert decoded.error_class == "envelope"
