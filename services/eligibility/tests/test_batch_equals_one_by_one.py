"""The stream path applies a polled batch of person changes at once (PersonChangesBatchHandler), and a batch of
calendar facts likewise (CalendarFactsBatchHandler); the same messages applied one at a time (on_person_changed,
on_calendar_fact, as a redelivered batch is) must leave the same slice — persons, dated facts, qualification
versions, scheduled moves, households — and announce the same qualification changes and JPS reports, in the same
order per person: whatever the interleaving of persons, late changes (an 異動日 or a recording time before one
already applied), a 国外転出 still to come and its day coming, 20歳・60歳到達, cancellations before or after their
change, deaths, and however the stream is cut into batches (each batch one topic's, as the consumer polls them).

Each example runs both ways on the real database, each in a transaction rolled back afterwards."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from eligibility.handlers import (
    CalendarFactsBatchHandler,
    PersonChangesBatchHandler,
    fact_id,
    on_calendar_fact,
    on_person_changed,
    today_in_japan,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kokunen_common.messaging import Delivery, UnitOfWork
from kokunen_common.outbox import OutboxBuffer
from kokunen_contracts.eligibility import CalendarFact, CalendarFactKind
from kokunen_contracts.envelope import Event
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
        what = draw(st.sampled_from(("change", "change", "change", "cancel", "cancel_first", "calendar")))
        sent = [n for n, s in enumerate(steps) if s["what"] == "change"]
        if what == "calendar":
            # 20歳・60歳到達 of a person, or the day of a 国外転出 sent before (scheduled by it) coming.
            fact = draw(st.sampled_from(list(CalendarFactKind)))
            moves = [n for n in sent if steps[n]["kind"] is K.MOVED_OUT_ABROAD]
            if fact is CalendarFactKind.MOVE_ABROAD_EFFECTIVE and not moves:
                continue
            target = draw(st.sampled_from(moves)) if fact is CalendarFactKind.MOVE_ABROAD_EFFECTIVE else None
            person = steps[target]["person"] if target is not None else draw(st.integers(0, 2))
            steps.append({"what": "calendar", "person": person, "fact": fact, "target": target})
        elif what == "cancel_first":
            steps.append({"what": "cancel", "target": len(steps) + 1})
            steps.append(draw(a_change()))
        elif what == "cancel" and sent:
            steps.append({"what": "cancel", "target": draw(st.sampled_from(sent))})
        else:
            steps.append(draw(a_change()))
    if not steps:  # every step drawn was a day with nothing scheduled for it: a stream has at least one change
        steps.append(draw(a_change()))
    cuts = sorted(draw(st.lists(st.integers(1, len(steps)), max_size=4, unique=True)))
    return steps, cuts


def calendar_fact(step: dict[str, Any], atena: str, made: dict[int, PersonChanged]) -> CalendarFact:
    """The scheduler's fact of a step: the day of 20歳・60歳到達 (the day before the birthday: 年齢計算ニ関スル法律)
    or the 転出予定日 of the move that scheduled it."""
    fact: CalendarFactKind = step["fact"]
    scheduled_by = made[step["target"]] if step["target"] is not None else None
    if scheduled_by is not None:
        day = scheduled_by.effective_date
    else:
        birth = BIRTHS[step["person"]]
        years = 20 if fact is CalendarFactKind.REACHED_20 else 60
        day = date(birth.year + years, birth.month, birth.day) - timedelta(days=1)
    return issued(atena, fact, day, scheduled_by.event_id if scheduled_by is not None else None)


def issued(atena: str, fact: CalendarFactKind, day: date, scheduled_by: Any = None) -> CalendarFact:
    """A calendar fact as the scheduler issues it (its id derived from 宛名番号, fact, day and the move)."""
    return CalendarFact(
        event_id=fact_id(atena, fact, day, scheduled_by),
        effective_date=day,
        recorded_at=RECORDED + timedelta(days=1),
        atena_number=atena,
        fact=fact,
        scheduled_by_event_id=scheduled_by,
    )


def changes_of(steps: list[dict[str, Any]], atenas: list[str]) -> list[Event]:
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
    out: list[Event] = []
    issued: set[Any] = set()
    for n, step in enumerate(steps):
        if step["what"] == "change":
            out.append(made[n])
            continue
        if step["what"] == "calendar":
            fact = calendar_fact(step, atenas[step["person"]], made)
            if fact.event_id not in issued:  # the same fact again is the same event: the inbox drops it
                issued.add(fact.event_id)
                out.append(fact)
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


def delivery(event: Event, offset: int) -> Delivery[Any]:
    topic = "eligibility.calendar-fact.v1" if isinstance(event, CalendarFact) else "residency.person-changed.v1"
    return Delivery(event, event.event_id, "/test", topic, 0, offset)


async def one_at_a_time(delivery: Delivery[Any], uow: UnitOfWork) -> None:
    """Each message by its per-event handler."""
    if isinstance(delivery.event, CalendarFact):
        await on_calendar_fact(delivery, uow)
    else:
        await on_person_changed(delivery, uow)


class ByTopic:
    """Each message by its subscription's batch handler (a cut falls wherever the topic changes, so each batch is
    one topic's, as the consumer polls them)."""

    def __init__(self) -> None:
        self.persons = PersonChangesBatchHandler()
        self.calendar = CalendarFactsBatchHandler()

    async def __call__(self, delivery: Delivery[Any], uow: UnitOfWork) -> None:
        if isinstance(delivery.event, CalendarFact):
            await self.calendar(delivery, uow)
        else:
            await self.persons(delivery, uow)

    async def finish_batch(self, uow: UnitOfWork) -> None:
        await self.persons.finish_batch(uow)
        await self.calendar.finish_batch(uow)


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
            """SELECT cause_event_id, atena_number, due_on, cancelled_at IS NOT NULL AS cancelled,
                      applied_at IS NOT NULL AS applied
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
    topic_changes = [n for n in range(1, len(stream)) if type(stream[n]) is not type(stream[n - 1])]
    await assert_batches_equal_one_at_a_time(
        platform,
        "eligibility",
        one=one_at_a_time,
        batched=ByTopic(),
        deliveries=[delivery(e, n) for n, e in enumerate(stream)],
        cuts=sorted({*cuts, *topic_changes}),
        read=slice_reader(atenas),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stream=streams())
def test_a_batch_leaves_what_one_change_at_a_time_leaves(platform: Platform, stream: Any) -> None:
    steps, cuts = stream
    asyncio.run(compare(platform, steps, cuts))


async def applied_as_one_batch(
    platform: Platform, handler: Any, batch: list[Event], atenas: list[str], *, before: Sequence[Event] = ()
) -> dict[str, Any]:
    """What ``handler`` stores and announces for ``batch`` applied as one batch, after ``before`` applied one at a
    time (its announcements left out), in a transaction rolled back afterwards."""
    conn = await platform.connect_as("eligibility")
    try:
        tx = conn.transaction()
        await tx.start()
        try:
            outbox = OutboxBuffer(schema="eligibility", source="/kokunen/eligibility")
            for n, event in enumerate(before):
                await one_at_a_time(delivery(event, n), UnitOfWork(conn, outbox))
            outbox.rows.clear()
            uow = UnitOfWork(conn, outbox, {})
            for n, event in enumerate(batch):
                await handler(delivery(event, n), uow)
            await handler.finish_batch(uow)
            read: dict[str, Any] = await slice_reader(atenas)(conn, outbox)
            return read
        finally:
            await tx.rollback()
    finally:
        await conn.close()


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
    read = await applied_as_one_batch(platform, PersonChangesBatchHandler(), stream, [stays, leaves])
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


async def test_a_batch_of_calendar_facts_announces_what_the_law_gives(platform: Platform) -> None:
    """The comparison is not vacuous for calendar facts either: in one batch, a resident's 20歳到達 begins a period
    (国民年金法8条1号), the 転出予定日 of another's 国外転出 ends theirs (9条2号: the day after) and takes the
    scheduled move, and a fact of a person the slice does not know changes nothing."""
    young, leaving, unknown = unique_atena(), unique_atena(), unique_atena()
    birthday = TODAY + timedelta(days=11)  # the day comes after the person is known (the fact is issued then)
    birth = date(birthday.year - 20, birthday.month, min(birthday.day, 28))
    turns_20 = date(birth.year + 20, birth.month, birth.day) - timedelta(days=1)
    moved_in = person_changed(young, K.MOVED_IN_DOMESTIC, birth + timedelta(days=400), birth=birth)
    arrived = person_changed(leaving, K.MOVED_IN_FROM_ABROAD, date(2025, 4, 1))
    leave_on = TODAY + timedelta(days=30)
    leave = person_changed(leaving, K.MOVED_OUT_ABROAD, leave_on)
    facts = [
        issued(young, CalendarFactKind.REACHED_20, turns_20),
        issued(leaving, CalendarFactKind.MOVE_ABROAD_EFFECTIVE, leave_on, leave.event_id),
        issued(unknown, CalendarFactKind.REACHED_60, TODAY),
    ]
    read = await applied_as_one_batch(
        platform, CalendarFactsBatchHandler(), facts, [young, leaving, unknown], before=[moved_in, arrived, leave]
    )
    acquired = read["announced"][f"eligibility.qualification-changed.v1/{young}"]
    assert [(a["kind"], a["acquisition_reason"], a["acquired_on"]) for a in acquired] == [
        ("acquired", "reached_20", turns_20.isoformat())
    ]
    lost = read["announced"][f"eligibility.qualification-changed.v1/{leaving}"]
    assert [(a["kind"], a["lost_on"]) for a in lost] == [("lost", (leave_on + timedelta(days=1)).isoformat())]
    assert not any(unknown in key for key in read["announced"])
    assert [m["applied"] for m in read["moves"]] == [True]
    assert len(read["facts"]) == 5  # three person changes and the two facts of known persons
