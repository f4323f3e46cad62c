"""閉庁日 (the days the city office is closed), for the access-log review: 地方自治法4条の2 lets a city's 条例 name its
休日 — 日曜日・土曜日, 国民の祝日に関する法律に規定する休日 (祝日, 振替休日, 国民の休日) and 年末年始 (12月29日〜1月3日,
as in 行政機関の休日に関する法律1条1項3号, which the cities' 休日条例 follow).

The national holidays come from ``jpholiday`` (maintained, rule-based: 春分・秋分 and the Happy Monday days are
computed, so years not yet announced follow the same rules until the law changes).
"""

from __future__ import annotations

from datetime import date, timedelta

import jpholiday

YEAR_END = "年末年始"


def closed_days(first: date, last: date) -> dict[date, str]:
    """The holidays between ``first`` and ``last`` (inclusive) with their names; Saturdays and Sundays are not
    listed (every rule knows them by the weekday)."""
    days: dict[date, str] = {}
    day = first
    while day <= last:
        name = jpholiday.is_holiday_name(day)
        if name:
            days[day] = name
        elif (day.month, day.day) >= (12, 29) or (day.month, day.day) <= (1, 3):
            days[day] = YEAR_END
        day += timedelta(days=1)
    return days
