"""From a resident-record change (住民記録異動) to the normalised person change the pension services use.

The mapping follows the domain brief §2: 国内転入/転居/国内転出 change no qualification; 職権消除 is
**not** a death or a move abroad; 帰化 and 国籍喪失 are a 消除 + 記載 of the same person (same 宛名番号),
so they continue one person rather than an exit and a re-entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from kokunen_contracts.residency import (
    ChangeCategory,
    ChangeReason,
    PersonChangeKind,
    ResidentChanged,
    ResidentRecord,
)

NORMALISED_KIND: dict[ChangeReason, PersonChangeKind | None] = {
    ChangeReason.DOMESTIC_MOVE_IN: PersonChangeKind.MOVED_IN_DOMESTIC,
    ChangeReason.MOVE_IN_FROM_ABROAD: PersonChangeKind.MOVED_IN_FROM_ABROAD,
    ChangeReason.BIRTH: PersonChangeKind.BORN,
    ChangeReason.EX_OFFICIO_ENTRY: PersonChangeKind.ENTERED_EX_OFFICIO,
    ChangeReason.NATURALISATION_ENTRY: PersonChangeKind.NATIONALITY_CHANGED,
    ChangeReason.NATIONALITY_LOSS_ENTRY: PersonChangeKind.NATIONALITY_CHANGED,
    ChangeReason.DOMESTIC_MOVE_OUT: PersonChangeKind.MOVED_OUT_DOMESTIC,
    ChangeReason.MOVE_OUT_ABROAD: PersonChangeKind.MOVED_OUT_ABROAD,
    ChangeReason.DEATH: PersonChangeKind.DIED,
    ChangeReason.EX_OFFICIO_REMOVAL: PersonChangeKind.REMOVED_EX_OFFICIO,
    # The 消除 half of 帰化 / 国籍喪失 publishes nothing: the 記載 half that follows continues the
    # person (NATIONALITY_CHANGED). Publishing a removal would read downstream as leaving the city.
    ChangeReason.NATURALISATION_REMOVAL: None,
    ChangeReason.NATIONALITY_LOSS_REMOVAL: None,
    ChangeReason.MOVE_WITHIN_CITY: PersonChangeKind.MOVED_WITHIN_CITY,
    ChangeReason.EX_OFFICIO_AMENDMENT: PersonChangeKind.IDENTITY_AMENDED,
    ChangeReason.CLERICAL_CORRECTION: PersonChangeKind.IDENTITY_AMENDED,
    ChangeReason.MY_NUMBER_CHANGE: PersonChangeKind.IDENTITY_AMENDED,
    ChangeReason.RESIDENCE_STATUS_CHANGE: PersonChangeKind.IDENTITY_AMENDED,
    ChangeReason.NAME_CHANGE: PersonChangeKind.NAME_CHANGED,
    ChangeReason.FORMER_SURNAME: PersonChangeKind.NAME_CHANGED,
    ChangeReason.ALIAS: PersonChangeKind.NAME_CHANGED,
    ChangeReason.HOUSEHOLD_SEPARATION: PersonChangeKind.HOUSEHOLD_CHANGED,
    ChangeReason.HOUSEHOLD_MERGER: PersonChangeKind.HOUSEHOLD_CHANGED,
    ChangeReason.HOUSEHOLD_CHANGE: PersonChangeKind.HOUSEHOLD_CHANGED,
    ChangeReason.HOUSEHOLDER_CHANGE: PersonChangeKind.HOUSEHOLD_CHANGED,
    ChangeReason.CANCELLATION: PersonChangeKind.CHANGE_CANCELLED,
}

NATIONALITY_REMOVALS = frozenset({ChangeReason.NATURALISATION_REMOVAL, ChangeReason.NATIONALITY_LOSS_REMOVAL})


class Arrival(StrEnum):
    """How a change relates to what residency already holds for the person."""

    FIRST_SIGHT = "first_sight"  # person unknown: the change's record registers them
    IN_ORDER = "in_order"  # effective on or after everything we hold
    LATE = "late"  # effective before something we already hold: history is corrected


@dataclass(frozen=True)
class KnownPerson:
    """What residency holds for a person, as far as ordering a new change needs."""

    latest_effective_date: date
    is_resident: bool


def classify_arrival(change: ResidentChanged, known: KnownPerson | None) -> Arrival:
    if known is None:
        return Arrival.FIRST_SIGHT
    if change.effective_date < known.latest_effective_date:
        return Arrival.LATE
    return Arrival.IN_ORDER


def lives_in_japan(record: ResidentRecord, reason: ChangeReason) -> bool:
    """日本国内に住所を有する: false after a 国外転出 (the 転出先 is abroad), true otherwise while the
    current address is in Japan. A 国内転出 keeps an address in Japan (in another city)."""
    if reason is ChangeReason.MOVE_OUT_ABROAD:
        return False
    if reason is ChangeReason.DOMESTIC_MOVE_OUT:
        return True
    return record.current_address.in_japan


def is_resident_after(reason: ChangeReason, record: ResidentRecord) -> bool:
    """住民である: false after a 消除, except the 消除 half of 帰化/国籍喪失 (the same person is entered again)."""
    if reason in NATIONALITY_REMOVALS:
        return True
    if reason.category is ChangeCategory.REMOVAL:
        return False
    return record.removal is None or reason.category is ChangeCategory.ENTRY


def snapshot_flags(removal_reason: str | None) -> tuple[bool, bool]:
    """(住民である, 国内に住所を有する) of a line of a full extract (現況), which names no change: only its
    消除事由, if any, says whether the person still lives here — the same answers as for that removal."""
    if removal_reason is None:
        return True, True
    reason = ChangeReason(removal_reason)
    if reason in NATIONALITY_REMOVALS:
        return True, True
    return False, reason is not ChangeReason.MOVE_OUT_ABROAD


@dataclass(frozen=True)
class CurrentVersion:
    """Where a person's current 宛名 version sits in the order that picks it (ADR 0010)."""

    processed_on: date
    effective_date: date


def becomes_current(processed_on: date, effective_date: date, current: CurrentVersion | None) -> bool:
    """A newly stored version becomes the person's current 宛名 unless the current one was processed later
    (処理日, then 異動日; a later arrival wins a tie): the order ``make_current`` asks PostgreSQL for."""
    return current is None or (processed_on, effective_date) >= (current.processed_on, current.effective_date)
