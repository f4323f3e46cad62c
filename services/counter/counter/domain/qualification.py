"""資格の履歴 as the counter shows it: folded from eligibility's 資格異動 events, now or as recorded by a moment.

Each event describes its period as it now stands (国民年金法7条・8条・9条 are applied by eligibility, not here);
a correction replaces the period's state, and a cancellation either reopens a lost period (its state then has no
loss) or, when it repeats the period as it stood, removes the period. Folding only the events recorded by a
moment gives "what we believed then" (the bitemporal history: effective dates inside, recorded times outside).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

CATEGORY_LABELS = {
    "category_1": "第1号被保険者",
    "category_2": "第2号被保険者",
    "category_3": "第3号被保険者",
    "voluntary": "任意加入被保険者",
}
ACQUISITION_LABELS = {
    "reached_20": "20歳到達",
    "moved_in_from_abroad": "国外からの転入",
    "ceased_exclusion": "適用除外非該当",
    "left_category_2": "第2号被保険者でなくなった",
    "left_category_3": "第3号被保険者でなくなった",
    "voluntary_application": "任意加入の申出",
    "filed": "資格取得届",
}
LOSS_LABELS = {
    "death": "死亡",
    "moved_abroad": "国外転出",
    "reached_60": "60歳到達",
    "became_excluded": "適用除外",
    "became_category_2": "第2号被保険者となった",
    "became_category_3": "第3号被保険者となった",
    "reached_65": "65歳到達",
    "reached_480_months": "480月到達",
    "withdrew": "喪失の申出",
    "filed": "資格喪失届",
}
CHANGE_LABELS = {
    "acquired": "資格取得",
    "lost": "資格喪失",
    "category_changed": "種別変更",
    "corrected": "訂正",
    "cancelled": "取消",
}


@dataclass(frozen=True)
class QualificationEvent:
    event_id: uuid.UUID
    kind: str
    period_id: uuid.UUID
    category: str
    acquired_on: date
    acquisition_reason: str
    lost_on: date | None
    loss_reason: str | None
    replaces_event_id: uuid.UUID | None
    recorded_at: datetime


@dataclass(frozen=True)
class Period:
    """A qualification period (資格期間) as it stands after the events folded so far."""

    period_id: uuid.UUID
    category: str
    acquired_on: date
    acquisition_reason: str
    lost_on: date | None
    loss_reason: str | None
    last_change: str  # the kind of the last event that touched it

    @property
    def category_label(self) -> str:
        return CATEGORY_LABELS.get(self.category, self.category)

    @property
    def acquisition_label(self) -> str:
        return ACQUISITION_LABELS.get(self.acquisition_reason, self.acquisition_reason)

    @property
    def loss_label(self) -> str:
        return "" if self.loss_reason is None else LOSS_LABELS.get(self.loss_reason, self.loss_reason)

    @property
    def change_label(self) -> str:
        return CHANGE_LABELS.get(self.last_change, self.last_change)

    def holds_on(self, day: date) -> bool:
        return self.acquired_on <= day and (self.lost_on is None or day < self.lost_on)


def _state(event: QualificationEvent) -> tuple[object, ...]:
    return (event.category, event.acquired_on, event.acquisition_reason, event.lost_on, event.loss_reason)


def history(events: Iterable[QualificationEvent], recorded_by: datetime | None = None) -> list[Period]:
    """The periods as recorded by ``recorded_by`` (all events when None), oldest acquisition first."""
    chosen = sorted(
        (e for e in events if recorded_by is None or e.recorded_at <= recorded_by),
        key=lambda e: (e.recorded_at, str(e.event_id)),
    )
    periods: dict[uuid.UUID, Period] = {}
    seen: dict[uuid.UUID, QualificationEvent] = {}
    for event in chosen:
        seen[event.event_id] = event
        period = Period(
            event.period_id,
            event.category,
            event.acquired_on,
            event.acquisition_reason,
            event.lost_on,
            event.loss_reason,
            event.kind,
        )
        if event.kind == "cancelled":
            replaced = seen.get(event.replaces_event_id) if event.replaces_event_id else None
            as_it_stood = replaced is not None and _state(replaced) == _state(event)
            if as_it_stood or event.lost_on is not None:
                periods.pop(event.period_id, None)  # the period itself is void
                continue
        periods[event.period_id] = period
    return sorted(periods.values(), key=lambda p: (p.acquired_on, str(p.period_id)))


def current_period(periods: Iterable[Period], today: date) -> Period | None:
    """The period holding today (国民年金の被保険者資格 on that day), if any."""
    return next((p for p in periods if p.holds_on(today)), None)
