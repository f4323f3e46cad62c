"""What a resident-record change means for a person's qualification (domain brief §2).

Pure decisions: given the normalised change, what eligibility knows of the person and their open
period, return the qualification changes to make. Moves within Japan, 職権消除 and 帰化 change no
qualification; a future-dated 国外転出 is applied on its date by the scheduler, not on receipt.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from .categories import OtherCategoryStatus
from .qualification import (
    DesignatedActivity,
    PersonSituation,
    acquisition_on_moving_in,
    loss_on_death,
    loss_on_moving_abroad,
)


@dataclass(frozen=True)
class PersonFacts:
    """What eligibility knows of a person (from residency events, JPS data and filings)."""

    birth_date: date
    other_category: str
    basic_pension_number: str | None
    residence_status: str | None = None
    designated_activity: str | None = None


@dataclass(frozen=True)
class OpenPeriod:
    """The person's current insured period without a loss date."""

    version_id: int
    period_id: uuid.UUID
    category: str
    acquired_on: date
    acquisition_reason: str
    last_event_id: uuid.UUID


@dataclass(frozen=True)
class Acquire:
    """資格取得: open a category-1 period."""

    acquired_on: date
    reason: str  # AcquisitionReason code


@dataclass(frozen=True)
class Lose:
    """資格喪失: close the open period."""

    lost_on: date
    reason: str  # LossReason code


@dataclass(frozen=True)
class FlagAddressUnknown:
    """住所不明・居所未登録 candidate (職権消除): no automatic loss; staff investigate."""


@dataclass(frozen=True)
class ScheduleMoveAbroad:
    """A 国外転出 with a future 転出予定日: the loss is applied when that date comes."""

    moved_out_on: date


Decision = Acquire | Lose | FlagAddressUnknown | ScheduleMoveAbroad


def on_moved_in_from_abroad(person: PersonFacts, moved_in_on: date, open_period: OpenPeriod | None) -> list[Decision]:
    """国外転入: 資格取得 on the 転入日 (8条2号) when the person is a category-1 candidate that day."""
    if open_period is not None:
        return []
    situation = PersonSituation(
        birth=person.birth_date,
        has_address_in_japan=True,
        other_category=OtherCategoryStatus(person.other_category),
        residence_status=person.residence_status,
        designated_activity=DesignatedActivity.from_label(person.designated_activity),
    )
    acquisition = acquisition_on_moving_in(situation, moved_in_on)
    if acquisition is None:
        return []
    return [Acquire(acquisition.on, acquisition.reason.value)]


def on_died(died_on: date, open_period: OpenPeriod | None) -> list[Decision]:
    """死亡: 資格喪失 on the day after death (9条1号)."""
    if open_period is None or died_on < open_period.acquired_on:
        return []
    loss = loss_on_death(died_on)
    return [Lose(loss.on, loss.reason.value)]


def on_moved_out_abroad(moved_out_on: date, today: date, open_period: OpenPeriod | None) -> list[Decision]:
    """国外転出: 資格喪失 on the day after the 転出日 (9条2号), applied when effective, not on receipt."""
    if open_period is None:
        return []
    if moved_out_on > today:
        return [ScheduleMoveAbroad(moved_out_on)]
    loss = loss_on_moving_abroad(moved_out_on)
    return [Lose(loss.on, loss.reason.value)]


def on_removed_ex_officio() -> list[Decision]:
    """職権消除: not a death nor a move abroad — no loss; flag for investigation (住所不明)."""
    return [FlagAddressUnknown()]
