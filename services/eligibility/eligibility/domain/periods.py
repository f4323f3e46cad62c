"""Qualification periods (資格期間) and one person's qualification history (資格履歴).

The history keeps the periods the city administers: 第1号 and 任意加入. (第2号/第3号 are recorded by JPS;
here they appear only as the other side of a 種別変更.) A person is in one category at a time (7条1項), so
no two periods of the history overlap; every change that would break this is refused with an exception
that names the rule. Periods are half-open, [acquired_on, lost_on): the loss day is no longer insured.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from datetime import date
from typing import ClassVar, Final

from .categories import InsuredCategory
from .months import YearMonth, insured_month_span, insured_months
from .qualification import Acquisition, AcquisitionReason, Loss, LossReason

KEPT_CATEGORIES: Final = frozenset({InsuredCategory.CATEGORY_1, InsuredCategory.VOLUNTARY})


# ---------------------------------------------------------------------------------------------------------------
# The rules a change may break.


class QualificationRuleError(Exception):
    """A change to a qualification history that the law does not allow. ``rule`` names the rule."""

    rule: ClassVar[str] = "資格の得喪の規定 (国民年金法7条〜11条の2)"

    def __init__(self, detail: str) -> None:
        super().__init__(f"{self.rule}: {detail}")
        self.detail = detail


class LossBeforeAcquisitionError(QualificationRuleError):
    rule = "資格喪失日は資格取得日より前にならない (loss is never before acquisition)"


class LossWithoutOpenPeriodError(QualificationRuleError):
    rule = "被保険者でない者は資格を喪失しない (a loss ends an open period)"


class AlreadyInsuredError(QualificationRuleError):
    rule = "被保険者である者は重ねて資格を取得しない (8条: acquisition is by one not insured that day)"


class OverlappingPeriodsError(QualificationRuleError):
    rule = "同一人の資格期間は重ならない (7条1項: one category at a time, no overlapping periods)"


class CategoryNotKeptError(QualificationRuleError):
    rule = "市町村の資格履歴は第1号・任意加入の期間を持つ (第2号/第3号 are recorded by JPS)"


class ReasonDoesNotFitCategoryError(QualificationRuleError):
    rule = "取得・喪失事由は被保険者種別に合うものに限る (e.g. 60歳到達 ends 第1号, 65歳到達 ends 任意加入)"


class NotACategoryChangeError(QualificationRuleError):
    rule = "種別変更は第1号と第2号/第3号の間のもの (11条の2)"


class NoSuchChangeError(QualificationRuleError):
    rule = "取消しは記録されている異動に対してのみ行う (a cancellation names a recorded change)"


# ---------------------------------------------------------------------------------------------------------------
# Values.


@dataclass(frozen=True)
class QualificationPeriod:
    """資格期間: one period in one category, from the day of acquisition to the day of loss (exclusive)."""

    category: InsuredCategory
    acquired_on: date
    acquisition_reason: AcquisitionReason
    lost_on: date | None = None
    loss_reason: LossReason | None = None

    def __post_init__(self) -> None:
        if self.category not in KEPT_CATEGORIES:
            raise CategoryNotKeptError(self.category.label_ja)
        if self.category not in self.acquisition_reason.fits:
            raise ReasonDoesNotFitCategoryError(f"{self.acquisition_reason.label_ja} → {self.category.label_ja}")
        if (self.lost_on is None) != (self.loss_reason is None):
            raise ValueError("資格喪失日と資格喪失事由は揃って指定する (lost_on and loss_reason go together)")
        if self.lost_on is not None and self.lost_on < self.acquired_on:
            raise LossBeforeAcquisitionError(f"取得 {self.acquired_on}, 喪失 {self.lost_on}")
        if self.loss_reason is not None and self.category not in self.loss_reason.fits:
            raise ReasonDoesNotFitCategoryError(f"{self.loss_reason.label_ja} → {self.category.label_ja}")

    @classmethod
    def starting(cls, acquisition: Acquisition) -> QualificationPeriod:
        return cls(acquisition.category, acquisition.on, acquisition.reason)

    def ended(self, loss: Loss) -> QualificationPeriod:
        """This period closed by ``loss`` (its checks apply: not before acquisition, reason fits)."""
        return replace(self, lost_on=loss.on, loss_reason=loss.reason)

    @property
    def is_open(self) -> bool:
        return self.lost_on is None

    def covers(self, day: date) -> bool:
        """Insured on ``day``: acquired on or before it and not yet lost."""
        return self.acquired_on <= day and (self.lost_on is None or day < self.lost_on)

    def overlaps(self, other: QualificationPeriod) -> bool:
        """Some day is in both (half-open ranges, as PostgreSQL's daterange '[)' &&)."""
        start = max(self.acquired_on, other.acquired_on)
        ends = [end for end in (self.lost_on, other.lost_on) if end is not None]
        return not ends or start < min(ends)

    def month_span(self, *, as_of: date | None = None) -> tuple[YearMonth, YearMonth] | None:
        """First and last insured month (11条, 11条の2), see months.insured_month_span."""
        return insured_month_span(
            self.acquired_on,
            self.lost_on,
            as_of=as_of,
            acquired_by_category_change=self.acquisition_reason.is_category_change,
            lost_by_category_change=self.loss_reason is not None and self.loss_reason.is_category_change,
        )

    def insured_months(self, *, as_of: date | None = None) -> int:
        """被保険者期間の月数 of this period (11条); never negative."""
        return insured_months(
            self.acquired_on,
            self.lost_on,
            as_of=as_of,
            acquired_by_category_change=self.acquisition_reason.is_category_change,
            lost_by_category_change=self.loss_reason is not None and self.loss_reason.is_category_change,
        )


_CATEGORY_CHANGES: Final[dict[tuple[InsuredCategory, InsuredCategory], AcquisitionReason | LossReason]] = {
    (InsuredCategory.CATEGORY_2, InsuredCategory.CATEGORY_1): AcquisitionReason.LEFT_CATEGORY_2,
    (InsuredCategory.CATEGORY_3, InsuredCategory.CATEGORY_1): AcquisitionReason.LEFT_CATEGORY_3,
    (InsuredCategory.CATEGORY_1, InsuredCategory.CATEGORY_2): LossReason.BECAME_CATEGORY_2,
    (InsuredCategory.CATEGORY_1, InsuredCategory.CATEGORY_3): LossReason.BECAME_CATEGORY_3,
}


@dataclass(frozen=True)
class CategoryChange:
    """種別変更 (国民年金法11条の2) between 第1号 and 第2号/第3号, effective ``on``.

    ``on`` is the day the old category ends: for 1 → 2/3 the day the person becomes 第2号/第3号; for 2/3 → 1
    the day the old status is lost (厚生年金: the day after the last working day).
    """

    from_category: InsuredCategory
    to_category: InsuredCategory
    on: date

    def __post_init__(self) -> None:
        if (self.from_category, self.to_category) not in _CATEGORY_CHANGES:
            raise NotACategoryChangeError(f"{self.from_category.label_ja} → {self.to_category.label_ja}")

    @property
    def into_category_1(self) -> bool:
        return self.to_category is InsuredCategory.CATEGORY_1

    def as_acquisition(self) -> Acquisition:
        """2/3 → 1: a category-1 period begins (reason LEFT_CATEGORY_2/3)."""
        reason = _CATEGORY_CHANGES[(self.from_category, self.to_category)]
        if not isinstance(reason, AcquisitionReason):
            raise NotACategoryChangeError("this change ends a category-1 period; it begins none")
        return Acquisition(InsuredCategory.CATEGORY_1, self.on, reason)

    def as_loss(self) -> Loss:
        """1 → 2/3: the category-1 period ends that day (reason BECAME_CATEGORY_2/3)."""
        reason = _CATEGORY_CHANGES[(self.from_category, self.to_category)]
        if not isinstance(reason, LossReason):
            raise NotACategoryChangeError("this change begins a category-1 period; it ends none")
        return Loss(self.on, reason)


# ---------------------------------------------------------------------------------------------------------------
# The history.


def _in_order(periods: tuple[QualificationPeriod, ...]) -> tuple[QualificationPeriod, ...]:
    return tuple(sorted(periods, key=lambda p: (p.acquired_on, p.lost_on is None, p.lost_on or p.acquired_on)))


@dataclass(frozen=True)
class QualificationHistory:
    """資格履歴 of one person: their 第1号 and 任意加入 periods, in date order, never overlapping.

    Pure and immutable: every change returns a new history or raises a QualificationRuleError, leaving the
    old one as it was.
    """

    periods: tuple[QualificationPeriod, ...] = ()

    def __post_init__(self) -> None:
        ordered = _in_order(self.periods)
        for earlier, later in itertools.combinations(ordered, 2):
            if earlier.overlaps(later):
                raise OverlappingPeriodsError(
                    f"{earlier.category.label_ja} from {earlier.acquired_on} and "
                    f"{later.category.label_ja} from {later.acquired_on}"
                )
        object.__setattr__(self, "periods", ordered)

    # --- reading ---

    @property
    def open_period(self) -> QualificationPeriod | None:
        """The period with no loss day, if any (at most one: two open periods would overlap)."""
        return next((p for p in self.periods if p.is_open), None)

    def period_on(self, day: date) -> QualificationPeriod | None:
        """The period covering ``day``, if the person is insured (第1号 or 任意加入) then."""
        return next((p for p in self.periods if p.covers(day)), None)

    def insured_months(self, *, as_of: date, categories: frozenset[InsuredCategory] = KEPT_CATEGORIES) -> int:
        """被保険者期間の月数 (11条) over the periods of ``categories`` known on ``as_of``.

        A month is counted once even if two periods touch it (11条2項ただし書: re-acquired in the month of
        loss), so this counts the distinct months of the periods' spans.
        """
        months: set[YearMonth] = set()
        for period in self.periods:
            if period.category not in categories:
                continue
            span = period.month_span(as_of=as_of)
            if span is None:
                continue
            first, last = span
            months.update(first.plus(n) for n in range(last.months_since(first) + 1))
        return len(months)

    # --- changing ---

    def acquire(self, acquisition: Acquisition) -> QualificationHistory:
        """資格取得 (8条, 附則5条): open a period on the day of acquisition.

        Refused if the person is insured that day (AlreadyInsuredError) or if the new open period would run
        into a later recorded one (OverlappingPeriodsError: record the late period whole with ``record``).
        """
        current = self.period_on(acquisition.on)
        if current is not None:
            raise AlreadyInsuredError(
                f"{acquisition.on} is in the {current.category.label_ja} period from {current.acquired_on}"
            )
        return self._with(QualificationPeriod.starting(acquisition))

    def lose(self, loss: Loss) -> QualificationHistory:
        """資格喪失 (9条, 附則5条): close the open period on the day of loss."""
        current = self.open_period
        if current is None:
            raise LossWithoutOpenPeriodError(f"no open period to end on {loss.on}")
        if loss.on < current.acquired_on:
            raise LossBeforeAcquisitionError(f"取得 {current.acquired_on}, 喪失 {loss.on}")
        return self._replacing(current, current.ended(loss))

    def change_category(self, change: CategoryChange) -> QualificationHistory:
        """種別変更 (11条の2): 2/3 → 1 opens a category-1 period; 1 → 2/3 closes the open one that day."""
        if change.into_category_1:
            return self.acquire(change.as_acquisition())
        current = self.open_period
        if current is not None and current.category is not InsuredCategory.CATEGORY_1:
            raise NotACategoryChangeError(
                f"the open period is {current.category.label_ja}: its end on becoming 厚生年金 insured is a loss"
            )
        return self.lose(change.as_loss())

    def record(self, period: QualificationPeriod) -> QualificationHistory:
        """Add a whole period learned late (e.g. from JPS data); refused if it overlaps a recorded one."""
        return self._with(period)

    def cancel_acquisition(self, category: InsuredCategory, acquired_on: date) -> QualificationHistory:
        """異動の取消し of an acquisition: the period never began, so it goes with any loss recorded on it."""
        for period in self.periods:
            if period.category is category and period.acquired_on == acquired_on:
                return QualificationHistory(tuple(p for p in self.periods if p is not period))
        raise NoSuchChangeError(f"no {category.label_ja} period acquired on {acquired_on}")

    def cancel_loss(self, category: InsuredCategory, lost_on: date) -> QualificationHistory:
        """異動の取消し of a loss: the period is open again — refused if it would overlap a later period."""
        for period in self.periods:
            if period.category is category and period.lost_on == lost_on:
                return self._replacing(period, replace(period, lost_on=None, loss_reason=None))
        raise NoSuchChangeError(f"no {category.label_ja} period lost on {lost_on}")

    def bring_loss_forward(self, period: QualificationPeriod, loss: Loss) -> QualificationHistory:
        """Correct a recorded loss to an earlier one learned late (a death or 転出 before a recorded 60歳到達).

        Done in place rather than as cancel-then-lose: reopening the period even for a moment could
        collide with a period recorded after it."""
        if period.lost_on is None or loss.on >= period.lost_on:
            raise NoSuchChangeError(f"{period.category.label_ja}: {loss.on} is not before the recorded loss")
        return self._replacing(period, period.ended(loss))

    def cancel_category_change(self, change: CategoryChange) -> QualificationHistory:
        """異動の取消し of a 種別変更: undo the acquisition (2/3 → 1) or the loss (1 → 2/3) it made."""
        if change.into_category_1:
            return self.cancel_acquisition(InsuredCategory.CATEGORY_1, change.on)
        return self.cancel_loss(InsuredCategory.CATEGORY_1, change.on)

    # --- helpers (the constructor re-checks every invariant) ---

    def _with(self, period: QualificationPeriod) -> QualificationHistory:
        return QualificationHistory((*self.periods, period))

    def _replacing(self, old: QualificationPeriod, new: QualificationPeriod) -> QualificationHistory:
        return QualificationHistory(tuple(new if p is old else p for p in self.periods))
