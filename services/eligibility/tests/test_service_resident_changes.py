"""Eligibility on the real broker and database: each resident change (domain brief §2) and what it does
to the qualification (資格) — one table, every case a person of its own, published together."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest
from eligibility.handlers import today_in_japan
from kokunen_contracts.eligibility import CalendarFact, CalendarFactKind
from kokunen_contracts.envelope import now
from kokunen_contracts.registry import CALENDAR_FACT, PERSON_CHANGED
from kokunen_contracts.residency import PersonChanged, ResidenceStatus
from kokunen_contracts.residency import PersonChangeKind as K
from kokunen_testing.factories import person_changed
from kokunen_testing.platform import Platform, consumed, eventually, outbox_events, unique_atena

pytestmark = pytest.mark.integration

PERMANENT = ResidenceStatus(status="永住者")
MEDICAL_STAY = ResidenceStatus(status="特定活動", designated_activity="医療滞在")
FUTURE = today_in_japan() + timedelta(days=45)
Period = tuple[str, date, str, date | None, str | None]


@dataclass
class Case:
    name: str
    birth: date
    steps: list[tuple[K, date, dict[str, object]]]
    periods: list[Period]
    events: list[str]
    reports: list[str] = field(default_factory=list)
    reached_60: bool = False  # a 60歳到達 fact arrives after the first step


CASES = [
    Case(
        "国外転入, aged 35: 取得 on the 転入日 (8条2号)",
        date(1990, 5, 5),
        [(K.MOVED_IN_FROM_ABROAD, date(2025, 4, 1), {})],
        [("category_1", date(2025, 4, 1), "moved_in_from_abroad", None, None)],
        ["acquired"],
        ["qualification_acquisition"],
    ),
    Case(
        "国外転入 at 18 (still under 20 today): no acquisition",
        date(today_in_japan().year - 18, 6, 1),
        [(K.MOVED_IN_FROM_ABROAD, date(2025, 4, 1), {})],
        [],
        [],
    ),
    Case(
        "国外転入 at 65: aged 60 or over, no acquisition",
        date(1960, 1, 1),
        [(K.MOVED_IN_FROM_ABROAD, date(2025, 4, 1), {})],
        [],
        [],
    ),
    Case(
        "国外転入 under 特定活動 (医療滞在): excluded (施行規則1条の2)",
        date(1980, 1, 1),
        [(K.MOVED_IN_FROM_ABROAD, date(2025, 4, 1), {"nationality": "US", "residence_status": MEDICAL_STAY})],
        [],
        [],
    ),
    Case(
        "死亡 on a month end: 喪失 the next day, the 1st (9条1号)",
        date(1980, 1, 1),
        [(K.MOVED_IN_FROM_ABROAD, date(2025, 4, 1), {}), (K.DIED, date(2026, 1, 31), {})],
        [("category_1", date(2025, 4, 1), "moved_in_from_abroad", date(2026, 2, 1), "death")],
        ["acquired", "lost"],
        ["qualification_acquisition", "qualification_loss"],
    ),
    Case(
        "国外転出 (effective): 喪失 the day after (9条2号)",
        date(1980, 1, 1),
        [(K.MOVED_IN_FROM_ABROAD, date(2025, 4, 1), {}), (K.MOVED_OUT_ABROAD, date(2026, 6, 15), {})],
        [("category_1", date(2025, 4, 1), "moved_in_from_abroad", date(2026, 6, 16), "moved_abroad")],
        ["acquired", "lost"],
        ["qualification_acquisition", "qualification_loss"],
    ),
    Case(
        "国外転出 future-dated: nothing yet, applied on its date",
        date(1980, 1, 1),
        [(K.MOVED_IN_FROM_ABROAD, date(2025, 4, 1), {}), (K.MOVED_OUT_ABROAD, FUTURE, {})],
        [("category_1", date(2025, 4, 1), "moved_in_from_abroad", None, None)],
        ["acquired"],
        ["qualification_acquisition"],
    ),
    Case(
        "転居 and 国内転出: no change of status",
        date(1980, 1, 1),
        [
            (K.MOVED_IN_FROM_ABROAD, date(2025, 4, 1), {}),
            (K.MOVED_WITHIN_CITY, date(2025, 9, 1), {}),
            (K.MOVED_OUT_DOMESTIC, date(2026, 2, 1), {"is_resident": False, "lives_in_japan": True}),
        ],
        [("category_1", date(2025, 4, 1), "moved_in_from_abroad", None, None)],
        ["acquired"],
        ["qualification_acquisition"],
    ),
    Case(
        "職権消除: no loss (住所不明候補)",
        date(1980, 1, 1),
        [(K.MOVED_IN_FROM_ABROAD, date(2025, 4, 1), {}), (K.REMOVED_EX_OFFICIO, date(2026, 2, 1), {})],
        [("category_1", date(2025, 4, 1), "moved_in_from_abroad", None, None)],
        ["acquired"],
        ["qualification_acquisition"],
    ),
    Case(
        "帰化: one person continues, no loss and no new acquisition",
        date(1980, 1, 1),
        [
            (K.MOVED_IN_FROM_ABROAD, date(2025, 4, 1), {"nationality": "CN", "residence_status": PERMANENT}),
            (K.NATIONALITY_CHANGED, date(2026, 3, 1), {"nationality": "JP"}),
        ],
        [("category_1", date(2025, 4, 1), "moved_in_from_abroad", None, None)],
        ["acquired"],
        ["qualification_acquisition"],
    ),
    Case(
        "在留資格 becomes 特定活動 (医療滞在): 喪失 that day (9条4号)",
        date(1980, 1, 1),
        [
            (K.MOVED_IN_FROM_ABROAD, date(2025, 4, 1), {"nationality": "US", "residence_status": PERMANENT}),
            (K.IDENTITY_AMENDED, date(2026, 2, 1), {"nationality": "US", "residence_status": MEDICAL_STAY}),
        ],
        [("category_1", date(2025, 4, 1), "moved_in_from_abroad", date(2026, 2, 1), "became_excluded")],
        ["acquired", "lost"],
        ["qualification_acquisition", "qualification_loss"],
    ),
    Case(
        "異動の取消し of a death: the loss is cancelled, naming it",
        date(1980, 1, 1),
        [
            (K.MOVED_IN_FROM_ABROAD, date(2025, 4, 1), {}),
            (K.DIED, date(2026, 3, 10), {"id": "death"}),
            (K.CHANGE_CANCELLED, date(2026, 3, 10), {"cancels": "death", "is_resident": True}),
        ],
        [("category_1", date(2025, 4, 1), "moved_in_from_abroad", None, None)],
        ["acquired", "lost", "cancelled"],
        ["qualification_acquisition", "qualification_loss", "record_correction"],
    ),
    Case(
        "death reported late, after 60歳到達 was recorded: the loss is brought forward",
        date(1966, 4, 2),
        [(K.MOVED_IN_FROM_ABROAD, date(2020, 1, 10), {}), (K.DIED, date(2026, 3, 1), {})],
        [("category_1", date(2020, 1, 10), "moved_in_from_abroad", date(2026, 3, 2), "death")],
        ["acquired", "corrected"],  # the 60歳到達 is derived with the 国外転入: one period, already ended
        ["qualification_acquisition", "record_correction"],
        reached_60=True,
    ),
]


def events_of(case: Case, atena: str) -> list[PersonChanged | CalendarFact]:
    ids: dict[str, uuid.UUID] = {}
    out: list[PersonChanged | CalendarFact] = []
    for index, (kind, on, extra) in enumerate(case.steps):
        options = dict(extra)
        label = options.pop("id", None)
        cancels = options.pop("cancels", None)
        event = person_changed(
            atena, kind, on, birth=case.birth, cancels=ids.get(str(cancels)) if cancels else None, **options
        )  # type: ignore[arg-type]
        if label:
            ids[str(label)] = event.event_id
        out.append(event)
        if case.reached_60 and index == 0:
            out.append(
                CalendarFact(
                    event_id=uuid.uuid4(),
                    effective_date=date(2026, 4, 1),
                    recorded_at=now(),
                    atena_number=atena,
                    fact=CalendarFactKind.REACHED_60,
                )
            )
    return out


async def test_each_resident_change_does_what_the_law_says(platform: Platform, eligibility: None) -> None:
    atenas = {case.name: unique_atena() for case in CASES}
    streams = [events_of(case, atenas[case.name]) for case in CASES]
    # In rounds: every person's next event at once. Within a person the order holds (one round at a time),
    # which matters because calendar facts travel on their own topic.
    for step in range(max(len(s) for s in streams)):
        round_ = [s[step] for s in streams if len(s) > step]
        await platform.publish(CALENDAR_FACT, [e for e in round_ if isinstance(e, CalendarFact)])
        await platform.publish(PERSON_CHANGED, [e for e in round_ if isinstance(e, PersonChanged)])
        await eventually(lambda r=round_: consumed(platform, "eligibility", "eligibility", [e.event_id for e in r]))

    conn = await platform.connect_as("eligibility")
    try:
        for case in CASES:
            atena = atenas[case.name]
            rows = await conn.fetch(
                """SELECT category, acquired_on, acquisition_reason, lost_on, loss_reason
                   FROM eligibility.qualification_version
                   WHERE atena_number = $1 AND superseded_at IS NULL ORDER BY acquired_on""",
                atena,
            )
            assert [tuple(r) for r in rows] == case.periods, case.name
            changes = await outbox_events(
                platform, "eligibility", "eligibility", "eligibility.qualification-changed.v1", atena
            )
            assert [c["kind"] for c in changes] == case.events, case.name
            for change in changes:
                if change["kind"] in ("corrected", "cancelled"):
                    assert change["replaces_event_id"] == changes[-2]["event_id"], case.name
            reports = await outbox_events(
                platform, "eligibility", "eligibility", "eligibility.jps-report-due.v1", atena
            )
            assert [r["report_kind"] for r in reports] == case.reports, case.name
        flagged = await conn.fetchval(
            "SELECT address_unknown FROM eligibility.person WHERE atena_number = $1", atenas[CASES[8].name]
        )
        assert flagged is True
        scheduled = await conn.fetchval(
            "SELECT due_on FROM eligibility.scheduled_move WHERE atena_number = $1", atenas[CASES[6].name]
        )
        assert scheduled == FUTURE
    finally:
        await conn.close()
