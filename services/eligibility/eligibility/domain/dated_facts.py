"""The qualification history a person's dated facts give (資格履歴の再導出), whatever order they arrived in.

Resident changes reach eligibility late (a 届出 up to 14 days after the 異動日, a 死亡届 later still), out
of order, and cancelled (異動の取消し) before or after they take effect. Applying each one to the history
as it arrives loses facts: an age threshold between the 異動日 and the processing day is never applied, a
cancelled 国外転出 that the calendar already applied stays, a re-entry that arrives before the departure it
follows is dropped. So the history is not kept by folding arrivals; it is **derived** here, as a pure function
of what is known — every resident change received (cancelled ones void), the calendar facts received, the
birth date and the day "now" — by walking the facts in 異動日 order and applying the rules of 国民年金法:

- on each day, first the losses dated that day itself: 60歳到達 (9条3号, the 60歳到達日 itself;
  年齢計算ニ関スル法律, 民法143条) and becoming excluded (9条4号); ceasing to be excluded acquires (8条3号);
- then acquisitions on the day of the event (8条): 国外転入 (8条2号), 20歳到達 (8条1号) of a resident of the
  city living in Japan; a 国外転入 on the 20歳到達日 is recorded as the 国外転入;
- then the losses of the day after: 死亡 (9条1号) and 国外転出 (9条2号); a 国外転出 dated after "now" takes
  effect only once its day has come (the calendar's "move due" fact says so, or "now" reaches it).

20歳到達 is derived only within the span the city has observed the person (from their first change; for a
person first seen in a full extract, from the day it was recorded — their earlier history is JPS's), unless
the calendar itself announced it. Periods a filing (届出) set — and those recorded before facts were kept — are
given: they stay as they are, losses the facts give still end them (9条), and derived periods that would
overlap them give way.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from typing import Final

from .age import day_reaching_age
from .parameters import NotInForceError
from .periods import QualificationHistory, QualificationPeriod
from .qualification import CATEGORY_1_AGE_BAND
from .residency_effects import (
    PersonChange,
    PersonState,
    died,
    exclusion_changed,
    moved_abroad,
    moved_in_from_abroad,
    reached_20,
    reached_60,
)


class CalendarFactKind(StrEnum):
    """暦による事実 (values of the eligibility contract): the day of an age threshold or of a scheduled move
    has come. Kept as facts: they tell the derivation that their day is no longer in the future."""

    REACHED_20 = "reached_20"
    REACHED_60 = "reached_60"
    MOVE_ABROAD_EFFECTIVE = "move_abroad_effective"


FactKind = PersonChange | CalendarFactKind

# Entries make a person a resident of the city (住民となる); removals end it (住民でなくなる).
_ENTRIES: Final = frozenset(
    {
        PersonChange.REGISTERED,
        PersonChange.BORN,
        PersonChange.MOVED_IN_FROM_ABROAD,
        PersonChange.MOVED_IN_DOMESTIC,
        PersonChange.ENTERED_EX_OFFICIO,
    }
)
_REMOVALS: Final = frozenset(
    {
        PersonChange.MOVED_OUT_DOMESTIC,
        PersonChange.MOVED_OUT_ABROAD,
        PersonChange.DIED,
        PersonChange.REMOVED_EX_OFFICIO,
    }
)


@dataclass(frozen=True)
class DatedFact:
    """A resident change (or a calendar fact) eligibility received: what, on which 異動日, and the person's
    在留資格 after it. ``cancels`` is set on a 異動の取消し (it voids the fact it names); ``recorded_on`` is
    the day the resident-record system recorded it."""

    event_id: uuid.UUID
    kind: FactKind
    on: date
    recorded_on: date
    cancels: uuid.UUID | None = None
    residence_status: str | None = None
    designated_activity: str | None = None


def facts_in_effect(facts: Iterable[DatedFact], as_of: date) -> tuple[list[DatedFact], date]:
    """The resident changes that hold on ``as_of`` (cancelled ones void, a 国外転出 only once its day has
    come), in 異動日 order (ties in the order received), and the day up to which the facts are judged:
    ``as_of`` or the latest day the calendar announced, whichever is later."""
    facts = list(facts)
    void = {f.cancels for f in facts if f.cancels is not None}
    live = [f for f in facts if f.event_id not in void and f.kind is not PersonChange.CHANGE_CANCELLED]
    horizon = max([as_of, *(f.on for f in live if isinstance(f.kind, CalendarFactKind))])
    changes = [
        f
        for f in live
        if isinstance(f.kind, PersonChange) and (f.kind is not PersonChange.MOVED_OUT_ABROAD or f.on <= horizon)
    ]
    return sorted(changes, key=lambda f: f.on), horizon


def derive_history(
    facts: Sequence[DatedFact],
    person: PersonState,
    as_of: date,
    given_periods: Sequence[QualificationPeriod] = (),
) -> QualificationHistory:
    """The qualification history of ``person`` that the law gives for ``facts`` as known on ``as_of``.

    ``person`` supplies what the resident record does not date (birth, 第2号/第3号 status, 厚年老齢給付);
    ``given_periods`` are the given periods: set by filings, or recorded before facts were kept.
    """
    changes, horizon = facts_in_effect(facts, as_of)
    announced = {f.kind for f in facts if isinstance(f.kind, CalendarFactKind)}
    turns_20 = _day_reaching(person.birth, from_age=True)
    turns_60 = _day_reaching(person.birth, from_age=False)
    observed_from = min(
        (max(f.on, f.recorded_on) if f.kind is PersonChange.REGISTERED else f.on for f in changes), default=None
    )
    if turns_20 is not None and not (
        turns_20 <= horizon
        and ((observed_from is not None and turns_20 >= observed_from) or CalendarFactKind.REACHED_20 in announced)
    ):
        turns_20 = None
    if turns_60 is not None and turns_60 > horizon:
        turns_60 = None
    walk = _Walk(person, changes, turns_20, turns_60)
    derived = walk.run(QualificationHistory(), acquire=True) if changes else QualificationHistory()
    if not given_periods:
        return derived
    # Given periods stand; derived ones that would overlap them give way; the facts' losses end both.
    kept = [p for p in derived.periods if not any(p.overlaps(s) for s in given_periods)]
    return walk.run(QualificationHistory((*given_periods, *kept)), acquire=False)


def _day_reaching(birth: date, *, from_age: bool) -> date | None:
    """20歳到達日 (from_age) or 60歳到達日 under the 7条 age band in force then; None before 1986 law."""
    try:
        return day_reaching_age(
            birth, CATEGORY_1_AGE_BAND, (lambda band: band.from_age) if from_age else (lambda band: band.until_age)
        )
    except NotInForceError:
        return None


@dataclass
class _Walk:
    """One pass over the days on which something happens, in date order."""

    person: PersonState
    changes: list[DatedFact]
    turns_20: date | None
    turns_60: date | None

    def run(self, history: QualificationHistory, *, acquire: bool) -> QualificationHistory:
        by_day: dict[date, list[DatedFact]] = {}
        for fact in self.changes:
            by_day.setdefault(fact.on, []).append(fact)
        days = sorted({*by_day, *(d for d in (self.turns_20, self.turns_60) if d is not None)})
        first = self.changes[0] if self.changes else None
        # Before a 国外転入 they lived abroad; before any other first change, in Japan.
        in_japan = first is None or first.kind is not PersonChange.MOVED_IN_FROM_ABROAD
        resident = False
        alive = True
        status = (
            (first.residence_status, first.designated_activity)
            if first
            else (self.person.residence_status, self.person.designated_activity)
        )
        for day in days:
            todays = by_day.get(day, [])
            kinds = {f.kind for f in todays}
            arrived = PersonChange.MOVED_IN_FROM_ABROAD in kinds
            resident_today = resident or bool(kinds & _ENTRIES)
            new_status = (todays[-1].residence_status, todays[-1].designated_activity) if todays else status
            before = self._state(status, lives_in_japan=in_japan or arrived, resident=resident_today)
            after = (
                before
                if new_status == status
                else replace(before, residence_status=new_status[0], designated_activity=new_status[1])
            )
            # A change dated before the birth (a record whose 生年月日 was corrected later) judges no age.
            if alive and day >= self.person.birth:
                # Losses on the day itself (9条3号・4号) and 8条3号 come first: a 60歳到達 on the day of a
                # death ends the period that day, before the death's loss of the day after.
                if day == self.turns_60:
                    history = reached_60(after, history)
                if new_status != status:
                    history = self._exclusion(before, after, day, history, acquire=acquire)
                if acquire and (in_japan or arrived):
                    if arrived:
                        history = moved_in_from_abroad(after, day, history)
                    if day == self.turns_20 and resident_today:
                        history = reached_20(after, history)
            # Losses of the day after (9条1号・2号).
            if PersonChange.DIED in kinds:
                history = died(day, history)
            elif PersonChange.MOVED_OUT_ABROAD in kinds:
                history = moved_abroad(day, history)
            for fact in todays:
                if fact.kind is PersonChange.MOVED_IN_FROM_ABROAD:
                    in_japan = True
                elif fact.kind is PersonChange.MOVED_OUT_ABROAD:
                    in_japan = False
                if fact.kind in _ENTRIES:
                    resident = True
                elif fact.kind in _REMOVALS:
                    resident = False
                if fact.kind is PersonChange.DIED:
                    alive = False
            status = new_status
        return history

    def _state(self, status: tuple[str | None, str | None], *, lives_in_japan: bool, resident: bool) -> PersonState:
        # The person as on that day: every field named (``dataclasses.replace`` costs twice as much, once or twice
        # per fact of every change derived; a test checks that no field of PersonState is left out).
        person = self.person
        return PersonState(
            birth=person.birth,
            lives_in_japan=lives_in_japan,
            is_resident=resident,
            other_category=person.other_category,
            residence_status=status[0],
            designated_activity=status[1],
            can_receive_kosei_old_age_benefit=person.can_receive_kosei_old_age_benefit,
            basic_pension_number=person.basic_pension_number,
        )

    @staticmethod
    def _exclusion(
        before: PersonState, after: PersonState, day: date, history: QualificationHistory, *, acquire: bool
    ) -> QualificationHistory:
        changed = exclusion_changed(before, after, day, history)
        if acquire or len(changed.periods) == len(history.periods):
            return changed
        return history  # the given periods' pass applies losses only: no period begins there
