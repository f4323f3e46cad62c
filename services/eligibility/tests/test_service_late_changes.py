"""Late and cancelled resident changes on the real broker and database (issue 16): the history ends as the
law gives it for the dates, whatever was processed when.

1. an age threshold between the 異動日 and the processing day is applied (20歳到達 8条1号, 60歳到達 9条3号);
2. a 国外転出 cancelled after the calendar applied it is undone;
3. a re-entry 国外転入 that arrives before the 転出 it follows has taken effect gives a second period.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from eligibility.calendar import fact_id
from eligibility.domain.age import age_reached_on
from eligibility.handlers import today_in_japan
from kokunen_common.ids import derived_id
from kokunen_contracts.eligibility import CalendarFact, CalendarFactKind
from kokunen_contracts.envelope import now
from kokunen_contracts.registry import CALENDAR_FACT, PERSON_CHANGED
from kokunen_contracts.residency import PersonChanged
from kokunen_contracts.residency import PersonChangeKind as K
from kokunen_testing.eligibility import calendar_through, set_calendar_watermark
from kokunen_testing.eligibility import current_periods as periods
from kokunen_testing.factories import person_changed
from kokunen_testing.platform import Platform, consumed, eventually, outbox_events, unique_atena

pytestmark = pytest.mark.integration

TODAY = today_in_japan()
ONE_DAY = timedelta(days=1)


def born_to_reach(age: int, day: date) -> date:
    """A birth date whose 年齢到達日 (年齢計算ニ関スル法律) of ``age`` is ``day``."""
    start = date(day.year - age, 1, 1)
    return next(start + timedelta(days=n) for n in range(400) if age_reached_on(start + timedelta(days=n), age) == day)


async def applied(platform: Platform, *event_ids: uuid.UUID) -> bool:
    return await consumed(platform, "eligibility", "eligibility", event_ids)


async def kinds(platform: Platform, atena: str) -> list[str]:
    changes = await outbox_events(platform, "eligibility", "eligibility", "eligibility.qualification-changed.v1", atena)
    return [c["kind"] for c in changes]


async def test_an_age_reached_before_a_late_change_is_processed_is_applied(
    platform: Platform, eligibility: None
) -> None:
    turning_20, turning_60, dying_after_60 = unique_atena(), unique_atena(), unique_atena()
    moved_in = TODAY - timedelta(days=16)  # a 届出 processed 16 days after the 異動日
    # Moved in aged 19 the day before the 20歳到達日: 資格取得 on that day (8条1号), not on the 転入日.
    birth_20 = born_to_reach(20, moved_in + ONE_DAY)
    # Moved in aged 59; reached 60 ten days later (9条3号: lost on the 60歳到達日 itself) — then, for the
    # other, a death after it, also processed late: the 60歳到達 came first and stays the loss.
    birth_60 = born_to_reach(60, moved_in + timedelta(days=10))
    first = [
        person_changed(turning_20, K.MOVED_IN_FROM_ABROAD, moved_in, birth=birth_20),
        person_changed(turning_60, K.MOVED_IN_FROM_ABROAD, moved_in, birth=birth_60),
        person_changed(dying_after_60, K.MOVED_IN_FROM_ABROAD, moved_in, birth=birth_60),
    ]
    await platform.publish(PERSON_CHANGED, first)
    await eventually(lambda: applied(platform, *(e.event_id for e in first)))
    sixty = (moved_in, "moved_in_from_abroad", moved_in + timedelta(days=10), "reached_60")
    assert await periods(platform, turning_20) == [(moved_in + ONE_DAY, "reached_20", None, None)]
    assert await periods(platform, turning_60) == [sixty]

    death = person_changed(dying_after_60, K.DIED, moved_in + timedelta(days=12), birth=birth_60)
    # The calendar's own fact for the 20歳到達日, as the scanner names it: already derived, nothing doubles.
    reached = CalendarFact(
        event_id=fact_id(turning_20, CalendarFactKind.REACHED_20, moved_in + ONE_DAY),
        effective_date=moved_in + ONE_DAY,
        recorded_at=now(),
        atena_number=turning_20,
        fact=CalendarFactKind.REACHED_20,
    )
    await platform.publish(PERSON_CHANGED, [death])
    await platform.publish(CALENDAR_FACT, [reached])
    await eventually(lambda: applied(platform, death.event_id, reached.event_id))
    changes = await outbox_events(
        platform, "eligibility", "eligibility", "eligibility.qualification-changed.v1", turning_20
    )
    assert [c["kind"] for c in changes] == ["acquired"]
    assert changes[0]["period_id"] == str(derived_id(reached.event_id, "period", 0))
    assert await periods(platform, dying_after_60) == [sixty]
    assert await kinds(platform, dying_after_60) == ["acquired"]  # the death changed nothing


async def test_a_move_abroad_cancelled_after_the_calendar_applied_it_is_undone(
    platform: Platform, eligibility: None
) -> None:
    atena = unique_atena()
    leaves_on = TODAY + timedelta(days=10)  # 転出予定日, announced ahead
    await arrive(platform, person_changed(atena, K.MOVED_IN_FROM_ABROAD, date(2025, 1, 6)))
    leaving = person_changed(atena, K.MOVED_OUT_ABROAD, leaves_on)
    await arrive(platform, leaving)
    await set_calendar_watermark(platform, TODAY)
    await calendar_through(platform, leaves_on + timedelta(days=2))  # the calendar applies "move due"
    left = (date(2025, 1, 6), "moved_in_from_abroad", leaves_on + ONE_DAY, "moved_abroad")
    assert await eventually(lambda: _with_loss(platform, atena)) == [left]

    # The resident-record system cancels the 転出 after its day: the loss the calendar applied goes too.
    await arrive(
        platform, person_changed(atena, K.CHANGE_CANCELLED, leaves_on, cancels=leaving.event_id, lives_in_japan=True)
    )
    assert await periods(platform, atena) == [(date(2025, 1, 6), "moved_in_from_abroad", None, None)]
    changes = await outbox_events(platform, "eligibility", "eligibility", "eligibility.qualification-changed.v1", atena)
    assert [c["kind"] for c in changes] == ["acquired", "lost", "cancelled"]
    assert changes[-1]["replaces_event_id"] == changes[-2]["event_id"]


async def test_a_re_entry_that_arrives_before_the_move_abroad_takes_effect_is_kept(
    platform: Platform, eligibility: None
) -> None:
    atena = unique_atena()
    leaves_on = TODAY + timedelta(days=10)  # 転出予定日, announced ahead
    await arrive(platform, person_changed(atena, K.MOVED_IN_FROM_ABROAD, date(2025, 1, 6)))
    await arrive(platform, person_changed(atena, K.MOVED_OUT_ABROAD, leaves_on))
    # The re-entry (10 days after leaving) arrives while the 転出 still waits for its day.
    await arrive(platform, person_changed(atena, K.MOVED_IN_FROM_ABROAD, leaves_on + timedelta(days=10)))
    await set_calendar_watermark(platform, TODAY)
    await calendar_through(platform, leaves_on + timedelta(days=2))
    assert await eventually(lambda: _two_periods(platform, atena)) == [
        (date(2025, 1, 6), "moved_in_from_abroad", leaves_on + ONE_DAY, "moved_abroad"),
        (leaves_on + timedelta(days=10), "moved_in_from_abroad", None, None),
    ]
    assert await kinds(platform, atena) == ["acquired", "lost", "acquired"]


async def arrive(platform: Platform, event: PersonChanged) -> None:
    await platform.publish(PERSON_CHANGED, [event])
    await eventually(lambda: applied(platform, event.event_id))


async def _with_loss(platform: Platform, atena: str) -> list[tuple[object, ...]]:
    found = await periods(platform, atena)
    return found if found and found[-1][2] is not None else []


async def _two_periods(platform: Platform, atena: str) -> list[tuple[object, ...]]:
    found = await periods(platform, atena)
    return found if len(found) == 2 else []


async def test_the_calendar_announces_20_to_a_person_whose_move_abroad_is_still_to_come(
    platform: Platform, eligibility: None
) -> None:
    # The current record already says 国外 (a 転出予定日 a month ahead); on the 20歳到達日 they still live here.
    atena = unique_atena()
    birth = born_to_reach(20, TODAY + timedelta(days=5))
    await arrive(platform, person_changed(atena, K.BORN, birth, birth=birth))
    await arrive(platform, person_changed(atena, K.MOVED_OUT_ABROAD, TODAY + timedelta(days=30), birth=birth))
    await set_calendar_watermark(platform, TODAY)
    await calendar_through(platform, TODAY + timedelta(days=7))
    assert await eventually(lambda: periods(platform, atena)) == [(TODAY + timedelta(days=5), "reached_20", None, None)]
