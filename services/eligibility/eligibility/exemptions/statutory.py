"""法定免除 (国民年金法89条) and 産前産後期間の免除 (88条の2): the months each covers.

- 法定免除 is by 届出 (89条): from the month **before** the month the reason arose to the month
  in which it ceases (inclusive). The person may still choose to pay (89条2項).
- 産前産後免除 (88条の2, from 2019-04): the month before the month of the expected (or actual) birth to the
  second month after it — 4 months; for a multiple birth from 3 months before — 6 months. Those months count
  as paid, and the exemption takes priority over every other one (premiums.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from ..domain.months import YearMonth
from .parameters import PRE_POSTNATAL_EXEMPTION_IN_FORCE


class StatutoryReason(StrEnum):
    """法定免除の事由 (89条1項)."""

    DISABILITY_PENSION = "disability_pension"  # 障害基礎年金・障害厚生年金 (1級・2級) の受給権者 (1号)
    LIVELIHOOD_ASSISTANCE = "livelihood_assistance"  # 生活保護法による生活扶助 (2号)
    DESIGNATED_FACILITY = "designated_facility"  # 国立ハンセン病療養所等の入所者 (3号)

    @property
    def label_ja(self) -> str:
        return {
            StatutoryReason.DISABILITY_PENSION: "障害基礎年金等（1級・2級）の受給権者",
            StatutoryReason.LIVELIHOOD_ASSISTANCE: "生活保護の生活扶助の受給者",
            StatutoryReason.DESIGNATED_FACILITY: "厚生労働省令で定める施設の入所者",
        }[self]


@dataclass(frozen=True)
class MonthRange:
    """From ``first`` to ``last`` (inclusive); ``last`` None means not yet ended."""

    first: YearMonth
    last: YearMonth | None

    def covers(self, month: YearMonth) -> bool:
        return self.first <= month and (self.last is None or month <= self.last)

    def __str__(self) -> str:
        return f"{self.first}〜{self.last or ''}"


def statutory_exemption_months(arose_on: date, ceased_on: date | None = None) -> MonthRange:
    """法定免除の期間 (89条1項): from the month before the month the reason arose (該当するに至った日の属する
    月の前月) to the month containing the day it ceases (該当しなくなる日の属する月)."""
    first = YearMonth.of(arose_on).plus(-1)
    if ceased_on is not None and ceased_on < arose_on:
        raise ValueError(f"the reason ceases on {ceased_on} before it arose on {arose_on}")
    return MonthRange(first, YearMonth.of(ceased_on) if ceased_on else None)


class NotInForceYet(ValueError):
    """No month of the window falls on or after the day 88条の2 came into force."""


def pre_postnatal_months(birth_or_expected_on: date, *, multiple: bool) -> MonthRange:
    """産前産後期間 (88条の2): the month before the birth month (3 months before for a multiple birth) to the
    second month after it; cut at 2019-04, the first month the article covers."""
    birth_month = YearMonth.of(birth_or_expected_on)
    first = birth_month.plus(-3 if multiple else -1)
    last = birth_month.plus(2)
    start = YearMonth.of(PRE_POSTNATAL_EXEMPTION_IN_FORCE.entries[0].valid_from)
    if last < start:
        raise NotInForceYet(f"産前産後免除は{start}分からです（出産予定 {birth_or_expected_on.isoformat()}）")
    return MonthRange(max(first, start), last)
