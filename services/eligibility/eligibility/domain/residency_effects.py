"""What a resident-record change or a calendar fact means for a person's qualification (domain brief §2).

Pure: given what eligibility knows of the person and their qualification history, return the new
history and what else must happen (a future-dated move to schedule, a 住所不明 flag). Moves within Japan,
職権消除 and 帰化 change no qualification; a future-dated 国外転出 is applied on its date, not on receipt.
A late fact (a death reported after a later loss was recorded) corrects the history instead of being
ignored; the service turns every difference into an event that names what it replaces.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from .age import age_reached_on
from .categories import InsuredCategory, OtherCategoryStatus
from .periods import QualificationHistory, QualificationRuleError
from .qualification import (
    Acquisition,
    DesignatedActivity,
    ExclusionCause,
    Loss,
    PersonSituation,
    acquisition_on_ceasing_exclusion,
    acquisition_on_moving_in,
    acquisition_on_reaching_20,
    exclusion_cause,
    loss_on_becoming_excluded,
    loss_on_death,
    loss_on_moving_abroad,
    loss_on_reaching_60,
)


@dataclass(frozen=True)
class PersonState:
    """What eligibility knows of a person, from residency events, JPS data and filings."""

    birth: date
    lives_in_japan: bool = True
    is_resident: bool = True
    other_category: OtherCategoryStatus = OtherCategoryStatus.UNKNOWN
    residence_status: str | None = None
    designated_activity: str | None = None
    can_receive_kosei_old_age_benefit: bool = False
    basic_pension_number: str | None = None

    def situation(self) -> PersonSituation:
        return PersonSituation(
            birth=self.birth,
            has_address_in_japan=self.lives_in_japan,
            other_category=self.other_category,
            can_receive_kosei_old_age_benefit=self.can_receive_kosei_old_age_benefit,
            residence_status=self.residence_status,
            designated_activity=DesignatedActivity.from_label(self.designated_activity),
        )


class PersonChange(StrEnum):
    """The normalised resident change kinds that matter here (values of the residency contract)."""

    REGISTERED = "registered"
    BORN = "born"
    MOVED_IN_FROM_ABROAD = "moved_in_from_abroad"
    MOVED_IN_DOMESTIC = "moved_in_domestic"
    ENTERED_EX_OFFICIO = "entered_ex_officio"
    MOVED_WITHIN_CITY = "moved_within_city"
    MOVED_OUT_DOMESTIC = "moved_out_domestic"
    MOVED_OUT_ABROAD = "moved_out_abroad"
    DIED = "died"
    REMOVED_EX_OFFICIO = "removed_ex_officio"
    NATIONALITY_CHANGED = "nationality_changed"
    NAME_CHANGED = "name_changed"
    HOUSEHOLD_CHANGED = "household_changed"
    IDENTITY_AMENDED = "identity_amended"
    CHANGE_CANCELLED = "change_cancelled"


@dataclass(frozen=True)
class CausedChange:
    """A change an earlier event made to the history (looked up when that event is cancelled)."""

    category: InsuredCategory
    acquired_on: date
    lost_on: date | None  # set when the change was a loss


@dataclass(frozen=True)
class Effects:
    """The history after the fact, and what else the fact asks for."""

    history: QualificationHistory
    schedule_move_abroad_on: date | None = None
    flag_address_unknown: bool = False
    note: str = ""


def on_person_change(
    kind: PersonChange,
    on: date,
    before: PersonState | None,
    after: PersonState,
    history: QualificationHistory,
    today: date,
    caused_by_cancelled: tuple[CausedChange, ...] = (),
) -> Effects:
    """Dispatch a normalised resident change to its rule."""
    match kind:
        case PersonChange.MOVED_IN_FROM_ABROAD:
            return Effects(moved_in_from_abroad(after, on, history))
        case PersonChange.DIED:
            return Effects(died(on, history))
        case PersonChange.MOVED_OUT_ABROAD:
            if on > today:
                return Effects(history, schedule_move_abroad_on=on, note="転出予定日に反映")
            return Effects(moved_abroad(on, history))
        case PersonChange.REMOVED_EX_OFFICIO:
            return Effects(history, flag_address_unknown=True, note="職権消除: 住所不明候補 (資格喪失なし)")
        case PersonChange.NATIONALITY_CHANGED | PersonChange.IDENTITY_AMENDED:
            return Effects(exclusion_changed(before, after, on, history))
        case PersonChange.CHANGE_CANCELLED:
            return Effects(undo(history, caused_by_cancelled))
        case _:
            # 国内転入・転出, 転居, 出生, 氏名・世帯の変更: no change of qualification (domain §2).
            return Effects(history)


def moved_in_from_abroad(person: PersonState, moved_in_on: date, history: QualificationHistory) -> QualificationHistory:
    """国外転入: 資格取得 on the 転入日 (国民年金法8条2号) when the person is a category-1 candidate."""
    acquisition = acquisition_on_moving_in(person.situation(), moved_in_on)
    if acquisition is None or history.period_on(moved_in_on) is not None:
        return history
    return _acquire_if_room(history, acquisition)


def died(died_on: date, history: QualificationHistory) -> QualificationHistory:
    """死亡: 資格喪失 on the day after death (9条1号). A death learned late ends the period that day
    even if a later loss was recorded meanwhile, and no period can begin after it."""
    after_death = tuple(p for p in history.periods if p.acquired_on > died_on)
    for period in after_death:
        history = history.cancel_acquisition(period.category, period.acquired_on)
    return _end_period_covering(history, died_on, loss_on_death(died_on))


def moved_abroad(moved_out_on: date, history: QualificationHistory) -> QualificationHistory:
    """国外転出: 資格喪失 on the day after the 転出日 (9条2号), applied once that day has come."""
    return _end_period_covering(history, moved_out_on, loss_on_moving_abroad(moved_out_on))


def reached_20(person: PersonState, history: QualificationHistory) -> QualificationHistory:
    """20歳到達: 資格取得 on the 20歳到達日 (8条1号) if the person is category 1 that day."""
    acquisition = acquisition_on_reaching_20(person.situation())
    if acquisition is None or history.period_on(acquisition.on) is not None:
        return history
    return _acquire_if_room(history, acquisition)


def reached_60(person: PersonState, history: QualificationHistory) -> QualificationHistory:
    """60歳到達: a category-1 period ends on the 60歳到達日 itself (9条3号); 任意加入 goes on."""
    loss = loss_on_reaching_60(person.birth)
    period = history.period_on(loss.on)
    if period is None or period.category is not InsuredCategory.CATEGORY_1 or period.lost_on is not None:
        return history
    return history.lose(loss)


def exclusion_changed(
    before: PersonState | None, after: PersonState, on: date, history: QualificationHistory
) -> QualificationHistory:
    """在留資格 changed: becoming excluded ends category 1 that day (9条4号 / 施行規則1条の2);
    ceasing to be excluded starts it that day (8条3号)."""
    was = exclusion_cause(before.situation(), on) if before else None
    now = exclusion_cause(after.situation(), on)
    if was is None and now is ExclusionCause.DESIGNATED_ACTIVITY_STAY:
        period = history.period_on(on)
        if period is not None and period.category is InsuredCategory.CATEGORY_1 and period.lost_on is None:
            return history.lose(loss_on_becoming_excluded(on, now))
    if was is not None and now is None and history.period_on(on) is None:
        acquisition = acquisition_on_ceasing_exclusion(after.situation(), on)
        if acquisition is not None:
            return _acquire_if_room(history, acquisition)
    return history


def undo(history: QualificationHistory, caused: tuple[CausedChange, ...]) -> QualificationHistory:
    """異動の取消し: the cancelled event's effects are void — its losses reopen, its acquisitions go."""
    for change in sorted(caused, key=lambda c: c.lost_on is None):  # losses first, then acquisitions
        try:
            if change.lost_on is not None:
                history = history.cancel_loss(change.category, change.lost_on)
            else:
                history = history.cancel_acquisition(change.category, change.acquired_on)
        except QualificationRuleError:
            continue  # already undone by a later correction: nothing left to cancel
    return history


def _end_period_covering(history: QualificationHistory, fact_day: date, loss: Loss) -> QualificationHistory:
    period = history.period_on(fact_day)
    if period is None:
        return history
    if period.lost_on is None:
        return history.lose(loss)
    if period.lost_on <= loss.on:
        return history  # it had already ended by then
    # Ended later than the fact allows (e.g. 60歳到達 recorded before a late-reported death): correct it.
    return history.bring_loss_forward(period, loss)


def _acquire_if_room(history: QualificationHistory, acquisition: Acquisition) -> QualificationHistory:
    try:
        return history.acquire(acquisition)
    except QualificationRuleError:
        return history  # a later recorded period is in the way: staff resolve it through a filing


def calendar_fact_day(person: PersonState, fact: str, scheduled_on: date | None) -> date:
    """The day a calendar fact is about: 20歳/60歳到達日, or the 転出日 of a scheduled move."""
    if fact == "reached_20":
        return age_reached_on(person.birth, 20)
    if fact == "reached_60":
        return age_reached_on(person.birth, 60)
    if scheduled_on is None:
        raise ValueError("a scheduled move needs its 転出日")
    return scheduled_on
