"""From the stored history to the new one: which qualification changes happened, and what they replace.

Every stored period has an id and the id of the last event published about it. Comparing the stored
periods with the history a rule returned gives the events to publish: a new period is an acquisition
(or a 種別変更 into category 1), a loss date appearing is a loss (or a 種別変更 out of it), a loss date or
reason that changes is a correction, a period or a loss that disappears is a cancellation — and each
correction and cancellation names the event it replaces, so that downstream recipients can correct what
they were sent.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from .periods import QualificationHistory, QualificationPeriod


class ChangeKind(StrEnum):
    """資格異動の種類 (values of the eligibility contract)."""

    ACQUIRED = "acquired"
    LOST = "lost"
    CATEGORY_CHANGED = "category_changed"
    CORRECTED = "corrected"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class StoredPeriod:
    period: QualificationPeriod
    period_id: uuid.UUID
    version_id: int
    last_event_id: uuid.UUID


@dataclass(frozen=True)
class PeriodChange:
    kind: ChangeKind
    period: QualificationPeriod  # as it now stands (as it stood, for a cancelled period)
    period_id: uuid.UUID | None  # None for a new period: the service names it (from its cause)
    supersedes_version_id: int | None
    replaces_event_id: uuid.UUID | None
    removed: bool = False  # the period no longer exists


def stored_history(stored: list[StoredPeriod]) -> QualificationHistory:
    return QualificationHistory(tuple(s.period for s in stored))


def diff(stored: list[StoredPeriod], new: QualificationHistory) -> list[PeriodChange]:
    """The changes that turn ``stored`` into ``new``, in date order."""
    by_start = {(s.period.category, s.period.acquired_on): s for s in stored}
    kept = {(p.category, p.acquired_on) for p in new.periods}
    gone = [s for key, s in by_start.items() if key not in kept]
    changes: list[PeriodChange] = []
    for period in new.periods:
        old = by_start.get((period.category, period.acquired_on))
        if old is None:
            # A period whose start was corrected keeps its identity when it overlaps exactly one gone period.
            twins = [s for s in gone if s.period.overlaps(period) or s.period.acquired_on == period.acquired_on]
            if len(twins) == 1:
                twin = twins[0]
                gone.remove(twin)
                changes.append(
                    PeriodChange(ChangeKind.CORRECTED, period, twin.period_id, twin.version_id, twin.last_event_id)
                )
                continue
            # A whole period learned at once (already ended) is one acquisition event carrying its loss too.
            kind = ChangeKind.CATEGORY_CHANGED if period.acquisition_reason.is_category_change else ChangeKind.ACQUIRED
            changes.append(PeriodChange(kind, period, None, None, None))
            continue
        if old.period == period:
            continue
        if (
            old.period.lost_on is None
            and period.lost_on is not None
            and old.period.acquisition_reason == (period.acquisition_reason)
        ):
            assert period.loss_reason is not None
            kind = ChangeKind.CATEGORY_CHANGED if period.loss_reason.is_category_change else ChangeKind.LOST
            changes.append(PeriodChange(kind, period, old.period_id, old.version_id, None))
        elif old.period.lost_on is not None and period.lost_on is None:
            changes.append(PeriodChange(ChangeKind.CANCELLED, period, old.period_id, old.version_id, old.last_event_id))
        else:
            changes.append(PeriodChange(ChangeKind.CORRECTED, period, old.period_id, old.version_id, old.last_event_id))
    changes.extend(
        PeriodChange(ChangeKind.CANCELLED, old.period, old.period_id, old.version_id, old.last_event_id, removed=True)
        for old in gone
    )
    return sorted(changes, key=lambda c: (c.period.acquired_on, c.removed))
