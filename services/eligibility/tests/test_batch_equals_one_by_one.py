"""The stream path applies a polled batch of person changes at once (PersonChangesBatchHandler); the same changes
applied one at a time (on_person_changed, as a redelivered batch is) must leave the same slice — persons, dated
facts, qualification versions, scheduled moves, households — and announce the same qualification changes and JPS
reports, in the same order per person: whatever the interleaving of persons, late changes (an 異動日 or a
recording time before one already applied), a 国外転出 still to come, cancellations before or after their
change, deaths, and however the stream is cut into batches.

Each example runs both ways on the real database, each in a transaction rolled back afterwards."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from eligibility.handlers import PersonChangesBatchHandler, on_person_changed, today_in_japan
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kokunen_common.messaging import Delivery, UnitOfWork
from kokunen_common.outbox import OutboxBuffer
from kokunen_contracts.residency import PersonChanged, ResidenceStatus
from kokunen_contracts.residency import PersonChangeKind as K
from kokunen_testing.batches import announced, assert_batches_equal_one_at_a_time
from kokunen_testing.factories import person_changed
from kokunen_testing.platform import Platform, unique_atena

pytestmark = pytest.mark.integration

KINDS = (
    K.MOVED_IN_FROM_ABROAD,
    K.MOVED_IN_FROM_ABROAD,
    K.MOVED_OUT_ABROAD,
    K.MOVED_WITHIN_CITY,
    K.MOVED_IN_DOMESTIC,
    K.DIED,
    K.REMOVED_EX_OFFICIO,
    K.IDENTITY_AMENDED,
)
TODAY = today_in_japan()
START = TODAY - timedelta(days=400)  # 異動日 from here to 60 days after today (a 国外転出 still to come)
BIRTHS = (
    date(1985, 6, 15),
    date(TODAY.year - 20, TODAY.month, 1) - timedelta(days=100),  # reaches 20 within the window
    date(TODAY.year - 60, TODAY.month, 1) - timedelta(days=100),  # reaches 60 within the window
)
STATUSES = (None, ResidenceStatus(status="永住者"), ResidenceStatus(status="特定活動", designated_activity="医療滞在"))
RECORDED = datetime(2026, 1, 5, 9, 0).astimezone()


@st.composite
def a_change(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "what": "change",
        "person": draw(st.integers(0, 2)),
        "kind": draw(st.sampled_from(KINDS)),
        # Few distinct days and recording hours: some late (異動日 or recording before one already applied), some
        # on the same day (the order of the facts decides), some still to come (a 国外転出 scheduled).
        "day": draw(st.sampled_from((0, 30, 31, 180, 300, 420, 455))),
        "recorded": draw(st.integers(0, 4)),  # hours after RECORDED
        "status": draw(st.integers(0, len(STATUSES) - 1)),
        "sealed": draw(st.booleans()),
    }


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[int]]:
    """Steps for up to three persons — a change, a cancellation of a change sent before, or a cancellation
    arriving before its change — and where the stream is cut into batches."""
    steps: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(1, 12))):
        what = draw(st.sampled_from(("change", "change", "change", "cancel", "cancel_first")))
        sent = [n for n, s in enumerate(steps) if s["what"] == "change"]
        if what == "cancel_first":
            steps.append({"what": "cancel", "target": len(steps) + 1})
            steps.append(draw(a_change()))
        elif what == "cancel" and sent:
            steps.append({"what": "cancel", "target": draw(st.sampled_from(sent))})
        else:
            steps.append(draw(a_change()))
    cuts = sorted(draw(st.lists(st.integers(1, len(steps)), max_size=4, unique=True)))
    return steps, cuts


def changes_of(steps: list[dict[str, Any]], atenas: list[str]) -> list[PersonChanged]:
    made: dict[int, PersonChanged] = {}
    for n, step in enumerate(steps):
        if step["what"] == "change":
            person = step["person"]
            status = STATUSES[step["status"]]
            event = person_changed(
                atenas[person],
                step["kind"],
                START + timedelta(days=step["day"]),
                birth=BIRTHS[person],
                nationality="JP" if status is None else "US",
                residence_status=status,
            )
            made[n] = event.model_copy(
                update={
                    "recorded_at": RECORDED + timedelta(hours=step["recorded"]),
                    "my_number_sealed": f"k1:sealed-{n}" if step["sealed"] else None,
                }
            )
    out: list[PersonChanged] = []
    for n, step in enumerate(steps):
        if step["what"] == "change":
            out.append(made[n])
            continue
        target = made[step["target"]]
        cancellation = person_changed(
            target.atena_number,
            K.CHANGE_CANCELLED,
            target.effective_date,
            birth=target.birth_date,
            cancels=target.event_id,
        )
        out.append(cancellation.model_copy(update={"recorded_at": target.recorded_at + timedelta(hours=1)}))
    return out


def delivery(event: PersonChanged, offset: int) -> Delivery[Any]:
    return Delivery(event, event.event_id, "/test", "residency.person-changed.v1", 0, offset)


def slice_reader(atenas: list[str]) -> Any:
    async def read(conn: asyncpg.Connection, outbox: OutboxBuffer) -> dict[str, Any]:
        persons = await conn.fetch(
            """SELECT atena_number, birth_date, lives_in_japan, is_resident, resident_class, nationality,
                      residence_status, designated_activity, my_number_sealed, address_unknown, other_category
               FROM eligibility.person WHERE atena_number = ANY($1::text[]) ORDER BY atena_number""",
            atenas,
        )
        facts = await conn.fetch(
            """SELECT atena_number, event_id, kind, effective_date, source_recorded_at, cancels_event_id,
                      residence_status, designated_activity
               FROM eligibility.dated_fact WHERE atena_number = ANY($1::text[]) ORDER BY event_id""",
            atenas,
        )
        versions = await conn.fetch(
            """SELECT atena_number, period_id, category, acquired_on, acquisition_reason, lost_on, loss_reason,
                      cause_event_id, published_event_id, change_kind, superseded_at IS NULL AS current
               FROM eligibility.qualification_version WHERE atena_number = ANY($1::text[])
               ORDER BY atena_number, version_id""",
            atenas,
        )
        moves = await conn.fetch(
            """SELECT cause_event_id, atena_number, due_on, cancelled_at IS NOT NULL AS cancelled
               FROM eligibility.scheduled_move WHERE atena_number = ANY($1::text[]) ORDER BY cause_event_id""",
            atenas,
        )
        households = await conn.fetch(
            """SELECT event_id, atena_number, household_number, is_resident, effective_date
               FROM eligibility.household_version WHERE atena_number = ANY($1::text[])
               ORDER BY atena_number, recorded_at""",
            atenas,
        )
        follow_ups = await conn.fetch(
            """SELECT follow_up_id, atena_number, reason, detail FROM eligibility.follow_up
               WHERE atena_number = ANY($1::text[]) ORDER BY follow_up_id""",
            atenas,
        )
        return {
            "persons": [dict(r) for r in persons],
            "facts": [dict(r) for r in facts],
            "versions": [dict(r) for r in versions],
            "moves": [dict(r) for r in moves],
            "households": [dict(r) for r in households],
            "follow_ups": [dict(r) for r in follow_ups],
            "announced": announced(outbox),
        }

    return read


async def compare(platform: Platform, steps: list[dict[str, Any]], cuts: list[int]) -> None:
    atenas = [unique_atena() for _ in range(3)]
    stream = changes_of(steps, atenas)
    await assert_batches_equal_one_at_a_time(
        platform,
        "eligibility",
        one=on_person_changed,
        batched=PersonChangesBatchHandler(),
        deliveries=[delivery(e, n) for n, e in enumerate(stream)],
        cuts=cuts,
        read=slice_reader(atenas),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stream=streams())
def test_a_batch_leaves_what_one_change_at_a_time_leaves(platform: Platform, stream: Any) -> None:
    steps, cuts = stream
    asyncio.run(compare(platform, steps, cuts))


async def test_a_batch_announces_and_stores_what_the_law_gives(platform: Platform) -> None:
    """The comparison above is not vacuous: a batch of two persons' 国外転入, one then moving abroad (a day
    still to come) and one whose 転入 is cancelled, stores and announces what each change gives."""
    stays, leaves = unique_atena(), unique_atena()
    arrive_stays = person_changed(stays, K.MOVED_IN_FROM_ABROAD, date(2025, 4, 1))
    arrive_leaves = person_changed(leaves, K.MOVED_IN_FROM_ABROAD, date(2025, 4, 1))
    cancel = person_changed(stays, K.CHANGE_CANCELLED, date(2025, 4, 1), cancels=arrive_stays.event_id)
    later = TODAY + timedelta(days=30)
    leave = person_changed(leaves, K.MOVED_OUT_ABROAD, later)
    stream = [arrive_stays, arrive_leaves, cancel, leave]
    conn = await platform.connect_as("eligibility")
    try:
        tx = conn.transaction()
        await tx.start()
        try:
            outbox = OutboxBuffer(schema="eligibility", source="/kokunen/eligibility")
            handler = PersonChangesBatchHandler()
            uow = UnitOfWork(conn, outbox, {})
            for n, event in enumerate(stream):
                await handler(delivery(event, n), uow)
            await handler.finish_batch(uow)
            read = await slice_reader([stays, leaves])(conn, outbox)
        finally:
            await tx.rollback()
    finally:
        await conn.close()
    changed = {a: read["announced"][f"eligibility.qualification-changed.v1/{a}"] for a in (stays, leaves)}
    assert [event["kind"] for event in changed[stays]] == ["acquired", "cancelled"]
    assert changed[stays][1]["replaces_event_id"] == changed[stays][0]["event_id"]
    assert [event["kind"] for event in changed[leaves]] == ["acquired"]  # its 転出日 has not come
    reports = read["announced"][f"eligibility.jps-report-due.v1/{leaves}"]
    assert [r["report_kind"] for r in reports] == ["qualification_acquisition"]
    assert [m["due_on"] for m in read["moves"]] == [later]
    current = [(v["atena_number"], v["acquired_on"]) for v in read["versions"] if v["current"]]
    assert current == [(leaves, date(2025, 4, 1))]
    assert len(read["facts"]) == 4
