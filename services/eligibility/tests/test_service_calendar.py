"""The calendar scheduler on the real broker and database: 20歳到達 (8条1号), 60歳到達 (9条3号) and a
future-dated 国外転出 applied on its date — idempotent (run twice, nothing doubles) and replay-safe."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from eligibility.calendar import fact_id
from eligibility.handlers import today_in_japan
from kokunen_contracts.eligibility import CalendarFactKind
from kokunen_contracts.registry import PERSON_CHANGED
from kokunen_contracts.residency import PersonChangeKind as K
from kokunen_testing.eligibility import calendar_through as calendar
from kokunen_testing.eligibility import current_periods as periods
from kokunen_testing.eligibility import set_calendar_watermark as set_watermark
from kokunen_testing.factories import person_changed
from kokunen_testing.platform import Platform, eventually, outbox_events, unique_atena

pytestmark = pytest.mark.integration


async def test_reaching_20_acquires_on_the_day_before_the_birthday_once(platform: Platform, eligibility: None) -> None:
    born_1_april, born_29_feb = unique_atena(), unique_atena()
    await platform.publish(
        PERSON_CHANGED,
        [
            person_changed(born_1_april, K.REGISTERED, date(2006, 4, 1), birth=date(2006, 4, 1)),
            person_changed(born_29_feb, K.REGISTERED, date(2004, 2, 29), birth=date(2004, 2, 29)),
        ],
    )
    await eventually(lambda: _known(platform, born_29_feb))

    # Born 1 April 2006 → 20歳到達日 31 March 2026; born 29 Feb 2004 → 28 Feb 2024 (年齢計算ニ関スル法律).
    await set_watermark(platform, date(2024, 2, 27))
    await calendar(platform, date(2024, 2, 28))
    await set_watermark(platform, date(2026, 3, 30))
    await calendar(platform, date(2026, 3, 31))
    await set_watermark(platform, date(2026, 3, 30))  # and once more over the same day: nothing doubles
    await calendar(platform, date(2026, 3, 31))

    assert await eventually(lambda: periods(platform, born_1_april)) == [(date(2026, 3, 31), "reached_20", None, None)]
    assert await eventually(lambda: periods(platform, born_29_feb)) == [(date(2024, 2, 28), "reached_20", None, None)]
    facts = await outbox_events(platform, "eligibility", "eligibility", "eligibility.calendar-fact.v1", born_1_april)
    assert [f["event_id"] for f in facts] == [
        str(fact_id(born_1_april, CalendarFactKind.REACHED_20, date(2026, 3, 31)))
    ]
    changes = await outbox_events(
        platform, "eligibility", "eligibility", "eligibility.qualification-changed.v1", born_1_april
    )
    assert [c["kind"] for c in changes] == ["acquired"]
    # 20歳到達 is enrolled by JPS itself from 住基ネット: no report to JPS.
    assert (
        await outbox_events(platform, "eligibility", "eligibility", "eligibility.jps-report-due.v1", born_1_april) == []
    )


async def test_reaching_60_ends_category_1_on_the_60th_age_day(platform: Platform, eligibility: None) -> None:
    atena = unique_atena()
    # Born 2 April 1966 → 60歳到達日 1 April 2026 → 喪失 1 April 2026; last insured month 2026-03 (domain §1).
    await platform.publish(
        PERSON_CHANGED, [person_changed(atena, K.MOVED_IN_FROM_ABROAD, date(2010, 5, 1), birth=date(1966, 4, 2))]
    )
    await eventually(lambda: periods(platform, atena))
    await set_watermark(platform, date(2026, 3, 31))
    await calendar(platform, date(2026, 4, 1))
    assert await eventually(lambda: _lost(platform, atena)) == [
        (date(2010, 5, 1), "moved_in_from_abroad", date(2026, 4, 1), "reached_60")
    ]


async def test_a_future_move_abroad_is_applied_on_its_date_not_on_receipt(
    platform: Platform, eligibility: None
) -> None:
    atena, cancelled = unique_atena(), unique_atena()
    leaves_on = today_in_japan() + timedelta(days=100)
    announced = person_changed(cancelled, K.MOVED_OUT_ABROAD, leaves_on + timedelta(days=1))
    await platform.publish(
        PERSON_CHANGED,
        [
            person_changed(atena, K.MOVED_IN_FROM_ABROAD, date(2025, 1, 6)),
            person_changed(cancelled, K.MOVED_IN_FROM_ABROAD, date(2025, 1, 6)),
        ],
    )
    await eventually(lambda: periods(platform, cancelled))
    await platform.publish(
        PERSON_CHANGED,
        [
            person_changed(atena, K.MOVED_OUT_ABROAD, leaves_on),
            announced,
            person_changed(
                cancelled,
                K.CHANGE_CANCELLED,
                announced.effective_date,
                cancels=announced.event_id,
                is_resident=True,
                lives_in_japan=True,
            ),
        ],
    )
    await eventually(lambda: _cancelled_move(platform, announced.event_id))
    assert await periods(platform, atena) == [(date(2025, 1, 6), "moved_in_from_abroad", None, None)]  # not yet

    await set_watermark(platform, today_in_japan())
    await calendar(platform, leaves_on + timedelta(days=2))
    assert await eventually(lambda: _lost(platform, atena)) == [
        (date(2025, 1, 6), "moved_in_from_abroad", leaves_on + timedelta(days=1), "moved_abroad")
    ]
    await calendar(platform, leaves_on + timedelta(days=2))  # again: nothing more
    assert await periods(platform, cancelled) == [(date(2025, 1, 6), "moved_in_from_abroad", None, None)]
    changes = await outbox_events(platform, "eligibility", "eligibility", "eligibility.qualification-changed.v1", atena)
    assert [c["kind"] for c in changes] == ["acquired", "lost"]


async def _known(platform: Platform, atena: str) -> bool:
    conn = await platform.connect_as("eligibility")
    try:
        return bool(await conn.fetchval("SELECT 1 FROM eligibility.person WHERE atena_number = $1", atena))
    finally:
        await conn.close()


async def _lost(platform: Platform, atena: str) -> list[tuple[object, ...]]:
    found = await periods(platform, atena)
    return found if found and found[-1][2] is not None else []


async def _cancelled_move(platform: Platform, cause: uuid.UUID) -> bool:
    conn = await platform.connect_as("eligibility")
    try:
        return bool(
            await conn.fetchval(
                "SELECT cancelled_at IS NOT NULL FROM eligibility.scheduled_move WHERE cause_event_id = $1", cause
            )
        )
    finally:
        await conn.close()
