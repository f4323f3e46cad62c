"""Screening years (年度) and the income year each month is judged on.

免除・納付猶予 run July to June and a month is judged on the income of the calendar year before the July
that opens its year (国民年金法90条1項: 前年の所得, 1月から6月までの月分は前々年の所得). 学生納付特例 runs April
to March in the same way (90条の3). So July 2026 – June 2027 is judged on 2025's income; April 2026 –
March 2027 (学特) on 2025's.
"""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum

from ..domain.months import YearMonth


class ScreeningYear(StrEnum):
    """Which 年度 a kind of application runs on."""

    JULY_TO_JUNE = "july_to_june"  # 免除・納付猶予 (90条1項, 90条の2)
    APRIL_TO_MARCH = "april_to_march"  # 学生納付特例 (90条の3)

    @property
    def first_month_number(self) -> int:
        return 7 if self is ScreeningYear.JULY_TO_JUNE else 4

    def year_of(self, month: YearMonth) -> int:
        """The 年度 (named by the calendar year it starts in) that ``month`` belongs to."""
        return month.year if month.month >= self.first_month_number else month.year - 1

    def months_of(self, year: int) -> tuple[YearMonth, YearMonth]:
        """First and last month of the 年度 ``year``."""
        first = YearMonth(year, self.first_month_number)
        return first, first.plus(11)

    def income_year_of(self, month: YearMonth) -> int:
        """所得年: the calendar year before the one the month's 年度 starts in."""
        return self.year_of(month) - 1

    def last_day_of(self, year: int) -> date:
        """The 年度's last day (30 June, or 31 March for 学特): the household day of a past 年度."""
        _, last = self.months_of(year)
        return last.plus(1).first_day - timedelta(days=1)

    def label(self, year: int) -> str:
        first, last = self.months_of(year)
        return f"{first}〜{last}"
