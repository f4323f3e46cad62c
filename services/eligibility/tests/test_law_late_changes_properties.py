"""Late, out-of-order and cancelled resident changes end in the history the law gives for their dates.

Random sequences of 国外転入 / 国外転出 / 死亡 / 転居 / 職権消除 are delivered with random processing delays
(a 国外転出 may also be announced before its date), some cancelled (異動の取消し) before or after their change
takes effect. The service is played in pure terms, day by day: the calendar announces 20歳・60歳到達 and due
moves, each arrival is kept and the history derived again, and every difference is published as the service
publishes it. At the end:

- the history equals that of ``law_reference`` — a plain walk over the days, written here from the law
  (国民年金法8条・9条, 年齢計算ニ関スル法律, 民法143条), not with the service's rules;
- a recipient that keeps the latest published state of each period id (as 移転4 does) holds that same history,
  and every correction or cancellation names the event it replaces.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from eligibility.domain.dated_facts import CalendarFactKind, DatedFact, derive_history
from eligibility.domain.history_diff import ChangeKind, StoredPeriod, diff
from eligibility.domain.periods import QualificationHistory, QualificationPeriod
from eligibility.domain.residency_effects import PersonChange, PersonState
from hypothesis import given, settings
from hypothesis import strategies as st

ONE_DAY = timedelta(days=1)
WINDOW = (date(2024, 6, 1), date(2027, 6, 30))  # 異動日 of the random changes
FINAL = date(2028, 6, 30)  # after every processing day: the day the histories are compared
RANDOM_KINDS = [
    PersonChange.MOVED_IN_FROM_ABROAD,
    PersonChange.MOVED_OUT_ABROAD,
    PersonChange.DIED,
    PersonChange.MOVED_WITHIN_CITY,
    PersonChange.REMOVED_EX_OFFICIO,
]
Period = tuple[date, str, date | None, str | None]


# --- the law, written out for the test --------------------------------------------------------------


def reaches(birth: date, age: int) -> date:
    """年齢計算ニ関スル法律 + 民法143条: age N is reached on the day before the Nth birthday; born on 29 February,
    on 28 February."""
    if (birth.month, birth.day) == (2, 29):
        return date(birth.year + age, 2, 28)
    return date(birth.year + age, birth.month, birth.day) - ONE_DAY


def law_reference(birth: date, changes: list[tuple[PersonChange, date]], until: date) -> list[Period]:
    """The 第1号 periods of a person with these (uncancelled) resident changes, day by day up to ``until``.

    Before their first change the person lived in Japan unless that change is a 国外転入. On each day:
    a loss that falls due that day (the day after a death or a 国外転出, 9条1号・2号) or the 60歳到達日
    (9条3号: lost that very day) ends the period; then someone not insured, alive, 20 or over and under 60
    acquires (8条) on the day of a 国外転入 (8条2号), or on the 20歳到達日 (8条1号) when they live in Japan and
    are a resident of the city; then a death or a 国外転出 that day makes the next day the day of loss.
    """
    on_day: dict[date, set[PersonChange]] = {}
    for kind, day in changes:
        on_day.setdefault(day, set()).add(kind)
    turns_20, turns_60 = reaches(birth, 20), reaches(birth, 60)
    first_kind = min(changes, key=lambda c: c[1])[0]
    in_japan = first_kind is not PersonChange.MOVED_IN_FROM_ABROAD
    resident = False
    alive = True
    periods: list[Period] = []
    open_since: tuple[date, str] | None = None
    loss_due: tuple[date, str] | None = None
    # Nothing changes on the other days: walk the days of a change, of an age, and the days after a change.
    for day in sorted({*on_day, *(d + ONE_DAY for d in on_day), turns_20, turns_60}):
        if day > until:
            break
        kinds = on_day.get(day, set())
        if open_since and loss_due and loss_due[0] == day:
            periods.append((*open_since, *loss_due))
            open_since = loss_due = None
        if open_since and day == turns_60:
            periods.append((*open_since, day, "reached_60"))
            open_since = None
        entered = bool(kinds & {PersonChange.MOVED_IN_FROM_ABROAD, PersonChange.BORN})
        if open_since is None and alive and turns_20 <= day < turns_60:
            if PersonChange.MOVED_IN_FROM_ABROAD in kinds:
                open_since = (day, "moved_in_from_abroad")
            elif day == turns_20 and in_japan and (resident or entered):
                open_since = (day, "reached_20")
        if open_since and PersonChange.DIED in kinds:
            loss_due = (day + ONE_DAY, "death")
        elif open_since and PersonChange.MOVED_OUT_ABROAD in kinds:
            loss_due = (day + ONE_DAY, "moved_abroad")
        if PersonChange.MOVED_IN_FROM_ABROAD in kinds:
            in_japan = resident = True
        if PersonChange.BORN in kinds:
            resident = True
        if kinds & {PersonChange.MOVED_OUT_ABROAD, PersonChange.DIED, PersonChange.REMOVED_EX_OFFICIO}:
            resident = False
        if PersonChange.MOVED_OUT_ABROAD in kinds:
            in_japan = False
        if PersonChange.DIED in kinds:
            alive = False
    if open_since:
        periods.append((*open_since, *loss_due) if loss_due else (*open_since, None, None))
    return periods


# --- scenarios ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """A resident change as delivered: its 異動日, its processing day and, if cancelled, when."""

    event_id: uuid.UUID
    kind: PersonChange
    on: date
    processed_on: date
    cancelled_on: date | None


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[date, list[Change]]:
    birth = draw(
        st.one_of(  # reaching 20 in the window, reaching 60 in it, or in between
            st.dates(date(2004, 6, 1), date(2007, 6, 30)),
            st.dates(date(1964, 6, 1), date(1967, 6, 30)),
            st.dates(date(1975, 1, 1), date(1985, 12, 31)),
        )
    )
    ids = (uuid.UUID(int=n) for n in itertools.count(1))
    # The first change, never cancelled: born here (observed since birth; for those reaching 20 in the
    # window), or a 国外転入 in the window.
    if birth.year >= 2004 and draw(st.booleans()):
        first = Change(next(ids), PersonChange.BORN, birth, birth, None)
    else:
        moved_in = draw(st.dates(WINDOW[0], WINDOW[1] - timedelta(days=200)))
        first = Change(next(ids), PersonChange.MOVED_IN_FROM_ABROAD, moved_in, moved_in + _days(draw, 20), None)
    days = draw(st.lists(st.dates(max(first.on + ONE_DAY, WINDOW[0]), WINDOW[1]), max_size=8, unique=True))
    changes = [first]
    for day in days:
        kind = draw(st.sampled_from(RANDOM_KINDS))
        if kind is PersonChange.MOVED_OUT_ABROAD and draw(st.booleans()):
            processed = day - _days(draw, 40)  # 転出予定日: announced before it
        else:
            processed = day + _days(draw, 40)  # a 届出 up to 14 days late, a 死亡届 later still
        cancelled = processed + _days(draw, 60) if draw(st.integers(0, 3)) == 0 else None
        changes.append(Change(next(ids), kind, day, processed, cancelled))
    return birth, changes


def _days(draw: st.DrawFn, most: int) -> timedelta:
    return timedelta(days=draw(st.integers(0, most)))


# --- the service, played in pure terms ------------------------------------------------------------------


@dataclass
class Published:
    """What eligibility stored and what a recipient holds: the latest published state per period id."""

    stored: list[StoredPeriod]
    recipient: dict[uuid.UUID, QualificationPeriod]
    counter: itertools.count[int]

    def apply(self, new_history: QualificationHistory) -> None:
        for change in diff(self.stored, new_history):
            event_id = uuid.UUID(int=next(self.counter))
            period_id = change.period_id or uuid.UUID(int=next(self.counter))
            if change.kind in (ChangeKind.CORRECTED, ChangeKind.CANCELLED):
                replaced = next(s for s in self.stored if s.period_id == period_id)
                assert change.replaces_event_id == replaced.last_event_id
            self.stored = [s for s in self.stored if s.version_id != change.supersedes_version_id]
            if change.removed:
                self.recipient.pop(period_id)
                continue
            self.stored.append(StoredPeriod(change.period, period_id, next(self.counter), event_id))
            self.recipient[period_id] = change.period


def play(birth: date, changes: list[Change]) -> Published:
    """Deliver every change and cancellation on its processing day, the calendar's facts on theirs (the
    scheduler runs first thing in the day), deriving the history again after each, as the handlers do."""
    person = PersonState(birth=birth)
    turns = {CalendarFactKind.REACHED_20: reaches(birth, 20), CalendarFactKind.REACHED_60: reaches(birth, 60)}
    arrivals: list[tuple[date, int, DatedFact]] = []
    for n, c in enumerate(changes):
        arrivals.append((c.processed_on, 2 * n, DatedFact(c.event_id, c.kind, c.on, c.processed_on)))
        if c.cancelled_on is not None:
            cancel = DatedFact(uuid.uuid5(c.event_id, "cancel"), PersonChange.CHANGE_CANCELLED, c.on, c.cancelled_on)
            arrivals.append((c.cancelled_on, 2 * n + 1, _cancelling(cancel, c.event_id)))
    arrivals.sort(key=lambda a: (a[0], a[1]))
    published = Published([], {}, itertools.count(10_000))
    received: list[DatedFact] = []
    scheduled: dict[uuid.UUID, date] = {}  # future-dated 国外転出 waiting for their day
    days = sorted({a[0] for a in arrivals} | set(turns.values()) | {c.on for c in changes})
    for day in (d for d in days if d <= FINAL):
        calendar = [
            DatedFact(uuid.uuid5(uuid.NAMESPACE_OID, f"{kind}/{on}"), kind, on, on)
            for kind, on in turns.items()
            if on == day and received  # the scanner finds only persons eligibility knows
        ]
        for cause in [cause for cause, on in scheduled.items() if on == day]:
            del scheduled[cause]
            calendar.append(DatedFact(uuid.uuid5(cause, "due"), CalendarFactKind.MOVE_ABROAD_EFFECTIVE, day, day))
        for fact in calendar:
            received.append(fact)
            published.apply(derive_history(received, person, day))
        for _, _, fact in (a for a in arrivals if a[0] == day):
            received.append(fact)
            if fact.kind is PersonChange.MOVED_OUT_ABROAD and fact.on > day:
                scheduled[fact.event_id] = fact.on
            if fact.cancels is not None:
                scheduled.pop(fact.cancels, None)
            published.apply(derive_history(received, person, day))
    return published


def _cancelling(fact: DatedFact, cancels: uuid.UUID) -> DatedFact:
    return DatedFact(fact.event_id, fact.kind, fact.on, fact.recorded_on, cancels=cancels)


def _as_tuples(periods: list[QualificationPeriod]) -> list[Period]:
    return [
        (p.acquired_on, p.acquisition_reason.value, p.lost_on, p.loss_reason.value if p.loss_reason else None)
        for p in sorted(periods, key=lambda p: p.acquired_on)
    ]


@settings(max_examples=250, deadline=None)
@given(scenarios())
def test_late_and_cancelled_changes_end_in_the_history_the_law_gives(scenario: tuple[date, list[Change]]) -> None:
    birth, changes = scenario
    published = play(birth, changes)
    in_effect = [(c.kind, c.on) for c in changes if c.cancelled_on is None]
    expected = law_reference(birth, in_effect, FINAL)
    assert _as_tuples([s.period for s in published.stored]) == expected
    assert _as_tuples(list(published.recipient.values())) == expected


def test_the_three_defects_of_issue_16() -> None:
    """The cases the issue names, through the same play: a threshold between 異動日 and processing day, a
    転出 cancelled after the calendar applied it, a re-entry that arrives before the 転出 takes effect."""
    ids = (uuid.UUID(int=n) for n in itertools.count(1))
    turning_20 = play(
        date(2006, 4, 1),
        [Change(next(ids), PersonChange.MOVED_IN_FROM_ABROAD, date(2026, 3, 30), date(2026, 4, 15), None)],
    )
    assert _as_tuples([s.period for s in turning_20.stored]) == [(date(2026, 3, 31), "reached_20", None, None)]

    moved_in = Change(next(ids), PersonChange.MOVED_IN_FROM_ABROAD, date(2025, 1, 6), date(2025, 1, 6), None)
    cancelled_move = play(
        date(1980, 1, 1),
        [
            moved_in,
            Change(next(ids), PersonChange.MOVED_OUT_ABROAD, date(2026, 6, 22), date(2026, 6, 1), date(2026, 7, 3)),
        ],
    )
    assert _as_tuples([s.period for s in cancelled_move.stored]) == [
        (date(2025, 1, 6), "moved_in_from_abroad", None, None)
    ]

    re_entry = play(
        date(1980, 1, 1),
        [
            moved_in,
            Change(next(ids), PersonChange.MOVED_OUT_ABROAD, date(2026, 6, 22), date(2026, 6, 1), None),
            Change(next(ids), PersonChange.MOVED_IN_FROM_ABROAD, date(2026, 7, 1), date(2026, 6, 20), None),
        ],
    )
    assert _as_tuples([s.period for s in re_entry.stored]) == [
        (date(2025, 1, 6), "moved_in_from_abroad", date(2026, 6, 23), "moved_abroad"),
        (date(2026, 7, 1), "moved_in_from_abroad", None, None),
    ]
