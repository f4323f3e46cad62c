"""Insured months (被保険者期間の計算): 国民年金法11条 and 11条の2.

Insurance is counted in whole months (月単位): from the month of acquisition to the month **before** the
month of loss (11条1項). So loss on the 1st of a month ends with the previous month, and a death on the last
day of a month (loss the next day, the 1st) still counts the month of death.

Worked example: born 1966-04-02 → 60歳到達日 2026-04-01 → loss 2026-04-01 → last insured month 2026-03.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final

# [unconfirmed detail] 11条2項: acquiring and losing in the same month counts that month once. How this meets
# 11条の2 (the month of a 種別変更 counts as the new category) and the ただし書 (re-acquired in that month)
# is our reading, documented on last_insured_month; switch the rule off here if JPS reads it otherwise.
SAME_MONTH_ACQUISITION_AND_LOSS_COUNTS_ONE_MONTH: Final = True


@dataclass(frozen=True, order=True)
class YearMonth:
    """A calendar month (年月), the unit of insurance, premiums and benefits."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise ValueError(f"month must be 1–12: {self.month}")

    @classmethod
    def of(cls, day: date) -> YearMonth:
        """The month a day belongs to (その日の属する月)."""
        return cls(day.year, day.month)

    def plus(self, months: int) -> YearMonth:
        index = self.year * 12 + (self.month - 1) + months
        return YearMonth(index // 12, index % 12 + 1)

    def months_since(self, earlier: YearMonth) -> int:
        """How many months ``earlier`` is before this one (negative if it is after)."""
        return (self.year - earlier.year) * 12 + (self.month - earlier.month)

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def first_insured_month(acquired_on: date) -> YearMonth:
    """被保険者期間の初月 (国民年金法11条1項): the month containing the day of acquisition."""
    return YearMonth.of(acquired_on)


def last_insured_month(
    acquired_on: date,
    lost_on: date,
    *,
    acquired_by_category_change: bool = False,
    lost_by_category_change: bool = False,
    same_month_counts_once: bool = SAME_MONTH_ACQUISITION_AND_LOSS_COUNTS_ONE_MONTH,
) -> YearMonth | None:
    """被保険者期間の最終月 (国民年金法11条1項): the month **before** the month containing the loss day.

    11条2項 [unconfirmed detail]: when acquisition and loss fall in the same month, that month counts once.
    Our reading: this applies only when the person entered and left 国民年金 itself that month — if either end
    is a 種別変更, 11条の2 gives the month to the other category. None when no month is left.
    """
    first = first_insured_month(acquired_on)
    loss_month = YearMonth.of(lost_on)
    if (
        loss_month == first
        and same_month_counts_once
        and not acquired_by_category_change
        and not lost_by_category_change
    ):
        return first
    last = loss_month.plus(-1)
    return last if last >= first else None


def insured_month_span(
    acquired_on: date,
    lost_on: date | None,
    *,
    as_of: date | None = None,
    acquired_by_category_change: bool = False,
    lost_by_category_change: bool = False,
    same_month_counts_once: bool = SAME_MONTH_ACQUISITION_AND_LOSS_COUNTS_ONE_MONTH,
) -> tuple[YearMonth, YearMonth] | None:
    """First and last insured month of one period (11条), or None if it holds no month.

    An open period (no ``lost_on``) runs to the month of ``as_of`` — the law has no clock, so it is required
    then. A closed period is cut at the month of ``as_of`` when given (months known so far); a period that
    begins after ``as_of`` has no month yet.
    """
    if as_of is not None and as_of < acquired_on:
        return None  # not yet insured on that day
    first = first_insured_month(acquired_on)
    last: YearMonth | None
    if lost_on is None:
        if as_of is None:
            raise ValueError("an open period has months only up to a given day: pass as_of")
        last = YearMonth.of(as_of)
    else:
        last = last_insured_month(
            acquired_on,
            lost_on,
            acquired_by_category_change=acquired_by_category_change,
            lost_by_category_change=lost_by_category_change,
            same_month_counts_once=same_month_counts_once,
        )
        if last is not None and as_of is not None:
            last = min(last, YearMonth.of(as_of))
    if last is None or last < first:
        return None
    return first, last


def insured_months(
    acquired_on: date,
    lost_on: date | None,
    *,
    as_of: date | None = None,
    acquired_by_category_change: bool = False,
    lost_by_category_change: bool = False,
    same_month_counts_once: bool = SAME_MONTH_ACQUISITION_AND_LOSS_COUNTS_ONE_MONTH,
) -> int:
    """被保険者期間の月数 (国民年金法11条) of one period; never negative."""
    span = insured_month_span(
        acquired_on,
        lost_on,
        as_of=as_of,
        acquired_by_category_change=acquired_by_category_change,
        lost_by_category_change=lost_by_category_change,
        same_month_counts_once=same_month_counts_once,
    )
    if span is None:
        return 0
    first, last = span
    return last.months_since(first) + 1
