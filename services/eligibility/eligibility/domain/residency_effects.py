"""What a resident-record change or a calendar fact means for a person's qualification (domain brief §2).

Pure: the rule of each fact, applied to a history (dated_facts.py walks a person's facts through them in
異動日 order), and what else a change asks for (a future-dated move to schedule, a 住所不明 flag). Moves
within Japan, 職権消除 and 帰化 change no qualification; a future-dated 国外転出 is applied on its date, not on
receipt. A late fact (a death reported after a later loss was recorded) corrects the history instead of
being ignored; the service turns every difference into an event that names what it replaces.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

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
class FollowUps:
    """What a resident change asks for besides the history (which is derived from the facts, dated_facts.py)."""

    schedule_move_abroad_on: date | None = None
    flag_address_unknown: bool = False
    note: str = ""


def follow_ups(kind: PersonChange, on: date, today: date) -> FollowUps:
    """A future-dated 国外転出 is applied on its date, not on receipt (9条2号): the calendar announces the day.
    職権消除 ends no qualification: the person becomes a 住所不明 / 居所未登録 candidate (domain §2)."""
    if kind is PersonChange.MOVED_OUT_ABROAD and on > today:
        return FollowUps(schedule_move_abroad_on=on, note="転出予定日に反映")
    if kind is PersonChange.REMOVED_EX_OFFICIO:
        return FollowUps(flag_address_unknown=True, note="職権消除: 住所不明候補 (資格喪失なし)")
    return FollowUps()


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
    if not history.periods:
        return history  # nothing to end (most of a city's elderly: no period was ever derived here)
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
