"""tax_sync on the real broker and database, the Kafka way in: corrections that supersede, duplicates and
out-of-order corrections that change nothing, unknown persons kept and flagged, and every bad input
dead-lettered with its reason — the figures published as tax.income-determined.v1."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
from kokunen_common.messaging import _Accepted, decode_record
from kokunen_contracts.envelope import cloudevent_headers
from kokunen_contracts.registry import INCOME_ASSESSED, INCOME_DETERMINED, PERSON_CHANGED
from kokunen_contracts.residency import PersonChangeKind
from kokunen_testing.factories import income_assessed, person_changed
from kokunen_testing.platform import Platform, eventually, outbox_events, unique_atena
from tax_sync.adapters.repository import determined_event_id
from tax_sync.app import build

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def tax(platform: Platform) -> AsyncIterator[None]:
    async with build(platform.settings("tax_sync")):
        yield


async def applied(platform: Platform, event_ids: list[uuid.UUID]) -> bool:
    conn = await platform.connect_as("tax_sync")
    try:
        done = await conn.fetchval(
            "SELECT count(*) FROM tax.inbox WHERE message_key = ANY($1::text[])", [str(i) for i in event_ids]
        )
        return bool(done == len(event_ids))
    finally:
        await conn.close()


async def publish_in_order(platform: Platform, events: list[Any]) -> None:
    await platform.publish(INCOME_ASSESSED, events, source="/test/zei-system")
    await eventually(lambda: applied(platform, [e.event_id for e in events]))


async def figures(platform: Platform, atena: str) -> list[tuple[Any, ...]]:
    conn = await platform.connect_as("tax_sync")
    try:
        rows = await conn.fetch(
            """SELECT income_year, correction_seq, total_income, superseded_at IS NULL AS current, person_verified
               FROM tax.income_assessment WHERE atena_number = $1 ORDER BY income_year, correction_seq""",
            atena,
        )
        return [tuple(r) for r in rows]
    finally:
        await conn.close()


async def test_a_correction_supersedes_and_duplicates_and_stale_ones_change_nothing(
    platform: Platform, tax: None
) -> None:
    a, b, c = unique_atena(), unique_atena(), unique_atena()
    first = income_assessed(a, 2025, 0)
    await publish_in_order(platform, [first])
    # A: 更正 (seq 1) supersedes; the same seq again (a new event id) and the same event again are no-ops.
    correction = income_assessed(a, 2025, 1, total_income=1_500_000)
    await publish_in_order(platform, [correction])
    await publish_in_order(platform, [income_assessed(a, 2025, 1, total_income=9_999_999)])
    await platform.publish(INCOME_ASSESSED, [correction])
    # B: corrections out of order — seq 2 first; then 1 and 0 are stale.
    await publish_in_order(platform, [income_assessed(b, 2025, 2, total_income=2_000_000)])
    await publish_in_order(platform, [income_assessed(b, 2025, 1), income_assessed(b, 2025, 0)])
    # C: three in one batch (initial and two corrections), and another income year beside them.
    await publish_in_order(platform, [income_assessed(c, 2025, s, total_income=1_000_000 + s) for s in range(3)])
    await publish_in_order(platform, [income_assessed(c, 2024, 0)])

    assert await figures(platform, a) == [(2025, 0, 1_800_000, False, False), (2025, 1, 1_500_000, True, False)]
    assert await figures(platform, b) == [(2025, 2, 2_000_000, True, False)]
    assert await figures(platform, c) == [
        (2024, 0, 1_800_000, True, False),
        (2025, 0, 1_000_000, False, False),
        (2025, 1, 1_000_001, False, False),
        (2025, 2, 1_000_002, True, False),
    ]

    events = await outbox_events(platform, "tax_sync", "tax", INCOME_DETERMINED.name, a)
    assert [(e["kind"], e["correction_seq"], e["supersedes_event_id"]) for e in events] == [
        ("determined", 0, None),
        ("corrected", 1, str(determined_event_id(a, 2025, 0))),
    ]
    assert events[1]["total_income"] == 1_500_000
    assert "public_pension_income" not in events[1]  # revenue is not needed to screen
    events = await outbox_events(platform, "tax_sync", "tax", INCOME_DETERMINED.name, b)
    assert [(e["kind"], e["correction_seq"]) for e in events] == [("determined", 2)]
    events = await outbox_events(platform, "tax_sync", "tax", INCOME_DETERMINED.name, c)
    assert [(e["income_year"], e["kind"], e["correction_seq"], e["supersedes_event_id"]) for e in events] == [
        (2025, "determined", 0, None),
        (2025, "corrected", 1, str(determined_event_id(c, 2025, 0))),
        (2025, "corrected", 2, str(determined_event_id(c, 2025, 1))),
        (2024, "determined", 0, None),
    ]

    # The relay publishes them, and they keep their contract.
    async def relayed() -> list[Any]:
        conn = await platform.connect_as("tax_sync")
        try:
            return list(
                await conn.fetch(
                    "SELECT 1 FROM tax.outbox WHERE message_key = ANY($1::text[]) AND published_at IS NULL", [a, b, c]
                )
            )
        finally:
            await conn.close()

    await eventually(lambda: _none(relayed))
    ends = await platform.end_offsets(INCOME_DETERMINED.name)
    start = {p: max(0, o - 200) for p, o in ends.items()}
    records = await platform.read_from(INCOME_DETERMINED.name, start, until=lambda r: len(r) >= 7, timeout_s=5)
    ours = [r for r in records if r.key in (a.encode(), b.encode(), c.encode())]
    assert len(ours) == 7
    for record in ours:
        decoded = decode_record(INCOME_DETERMINED, record)
        assert isinstance(decoded, _Accepted), decoded


async def _none(check: Any) -> bool:
    return not await check()


async def test_an_unknown_person_is_kept_flagged_until_the_resident_record_knows_them(
    platform: Platform, tax: None
) -> None:
    known, unknown = unique_atena(), unique_atena()
    await platform.publish(
        PERSON_CHANGED, [person_changed(known, PersonChangeKind.MOVED_IN_DOMESTIC, date(2020, 4, 1))]
    )

    async def known_yet() -> bool:
        conn = await platform.connect_as("tax_sync")
        try:
            return bool(await conn.fetchval("SELECT 1 FROM tax.known_person WHERE atena_number = $1", known))
        finally:
            await conn.close()

    await eventually(known_yet)
    await publish_in_order(platform, [income_assessed(known), income_assessed(unknown)])
    assert [r[-1] for r in await figures(platform, known)] == [True]
    assert [r[-1] for r in await figures(platform, unknown)] == [False]
    [event] = await outbox_events(platform, "tax_sync", "tax", INCOME_DETERMINED.name, unknown)
    assert event["person_verified"] is False

    later = person_changed(unknown, PersonChangeKind.MOVED_IN_DOMESTIC, date(2026, 7, 1))
    await platform.publish(PERSON_CHANGED, [later])
    await eventually(lambda: applied(platform, [later.event_id]))
    assert [r[-1] for r in await figures(platform, unknown)] == [True]


def _body(atena: str, **changes: Any) -> tuple[bytes, Any]:
    event = income_assessed(atena)
    body = json.loads(event.model_dump_json())
    for key, value in changes.items():
        if value is _DROP:
            del body[key]
        else:
            body[key] = value
    return json.dumps(body).encode(), event


_DROP = object()


async def test_every_bad_input_goes_to_the_dead_letter_topic_with_its_reason(platform: Platform, tax: None) -> None:
    cases = {
        "negative count": (dict(general_dependants=-1), "general_dependants", "greater than or equal to 0"),
        "decimal yen": (dict(total_income=1_500_000.5), "total_income", "integer"),
        "yen as a float": (dict(medical_expense_deduction=120000.0), "medical_expense_deduction", "integer"),
        "yen as text": (dict(social_insurance_deduction="270000"), "social_insurance_deduction", "integer"),
        "tax year not income year + 1": (dict(tax_year=2025), "tax_year must be income_year + 1", ""),
        "income year before the known ones": (
            dict(income_year=1995, tax_year=1996, assessed_on="1996-06-10"),
            "before 2000 is not known",
            "",
        ),
        "income year not ended": (dict(assessed_on="2025-12-01"), "has not ended", ""),
        "missing 宛名番号": (dict(atena_number=_DROP), "atena_number", "Field required"),
        "unknown spouse class": (dict(spouse_deduction="several"), "spouse_deduction", ""),
    }
    start = await platform.end_offsets(INCOME_ASSESSED.dlq)
    sent: dict[str, tuple[uuid.UUID, str, str]] = {}
    atenas = []
    async with platform.producer() as producer:
        for name, (changes, expect, expect_more) in cases.items():
            atena = unique_atena()
            atenas.append(atena)
            body, event = _body(atena, **changes)
            headers = cloudevent_headers(event, source="/test/zei-system")
            await producer.send_and_wait(INCOME_ASSESSED.name, body, key=atena.encode(), headers=headers)
            sent[str(event.event_id)] = (name, expect, expect_more)
        malformed = income_assessed(unique_atena())
        await producer.send_and_wait(
            INCOME_ASSESSED.name,
            b'{"event_id": "' + str(malformed.event_id).encode() + b'", "atena_',
            key=malformed.atena_number.encode(),
            headers=cloudevent_headers(malformed, source="/test/zei-system"),
        )
        sent[str(malformed.event_id)] = ("malformed JSON", "body", "")

    records = await platform.read_from(INCOME_ASSESSED.dlq, start, until=lambda r: len(r) >= len(sent), timeout_s=60)
    reasons = {}
    for record in records:
        headers = {k: v.decode() for k, v in record.headers}
        if headers.get("ce_id") in sent:
            reasons[headers["ce_id"]] = (headers["dlq_reason"], headers["dlq_error_class"])
    assert set(reasons) == set(sent)
    for event_id, (name, expect, expect_more) in sent.items():
        reason, error_class = reasons[event_id]
        assert expect in reason, (name, reason)
        assert expect_more in reason, (name, reason)
        assert error_class in ("validation", "handler", "malformed_json"), (name, error_class)
    assert reasons[str(malformed.event_id)][1] == "malformed_json"

    conn = await platform.connect_as("tax_sync")
    try:
        kept = await conn.fetchval(
            "SELECT count(*) FROM tax.income_assessment WHERE atena_number = ANY($1::text[])", atenas
        )
        assert kept == 0  # nothing of a bad assessment is applied
    finally:
        await conn.close()


async def test_the_trace_continues_from_the_assessment_to_its_income_event(
    platform: Platform, tax: None, spans: object
) -> None:
    from kokunen_common.outbox import decode_headers
    from kokunen_common.telemetry import tracer

    atena = unique_atena()
    event = income_assessed(atena)
    with tracer().start_as_current_span("zei-system publish") as span:
        await platform.publish(INCOME_ASSESSED, [event])
    await eventually(lambda: applied(platform, [event.event_id]))
    conn = await platform.connect_as("tax_sync")
    try:
        text = await conn.fetchval("SELECT headers::text FROM tax.outbox WHERE message_key = $1", atena)
    finally:
        await conn.close()
    headers = {k: v.decode() for k, v in decode_headers(text)}
    assert headers["traceparent"].split("-")[1] == format(span.get_span_context().trace_id, "032x")
    assert headers["ce_id"] == str(determined_event_id(atena, 2025, 0))
