"""和暦: era boundaries as the 元号 took effect, 元年, the seven-digit codes of JPS forms."""

from __future__ import annotations

from datetime import date

import pytest
from transfer_dispatch.jps.domain.wareki import WarekiError, both, from_code, to_wareki, wareki_text


@pytest.mark.parametrize(
    ("day", "text", "code"),
    [
        (date(1873, 1, 1), "明治6年1月1日", "1060101"),  # the solar calendar's first day
        (date(1912, 7, 29), "明治45年7月29日", "1450729"),
        (date(1912, 7, 30), "大正元年7月30日", "3010730"),
        (date(1926, 12, 24), "大正15年12月24日", "3151224"),
        (date(1926, 12, 25), "昭和元年12月25日", "5011225"),
        (date(1927, 1, 1), "昭和2年1月1日", "5020101"),
        (date(1989, 1, 7), "昭和64年1月7日", "5640107"),  # the last day of 昭和
        (date(1989, 1, 8), "平成元年1月8日", "7010108"),
        (date(2019, 4, 30), "平成31年4月30日", "7310430"),  # the last day of 平成
        (date(2019, 5, 1), "令和元年5月1日", "9010501"),
        (date(2020, 1, 1), "令和2年1月1日", "9020101"),
        (date(2026, 11, 27), "令和8年11月27日", "9081127"),
    ],
)
def test_era_boundaries_text_and_code(day: date, text: str, code: str) -> None:
    assert wareki_text(day) == text
    assert to_wareki(day).code == code
    assert from_code(code) == day


def test_both_calendars_side_by_side() -> None:
    assert both(date(2026, 11, 16)) == "令和8年11月16日 (2026-11-16)"


@pytest.mark.parametrize(
    "code",
    [
        "7310501",  # 平成31年5月1日 did not exist: 令和元年 began that day
        "5640108",  # 昭和64年1月8日 was 平成元年1月8日
        "9010430",  # 令和元年4月30日 was still 平成
        "7000101",  # year 0
        "8010101",  # no era code 8
        "9080230",  # 2月30日
        "908112",  # six digits
    ],
)
def test_codes_that_name_no_real_day_are_refused(code: str) -> None:
    with pytest.raises(WarekiError):
        from_code(code)


def test_dates_before_the_solar_calendar_are_refused() -> None:
    with pytest.raises(WarekiError):
        to_wareki(date(1872, 12, 31))


def test_every_day_round_trips_through_its_code() -> None:
    day = date(1900, 1, 1)
    while day < date(2040, 1, 1):
        assert from_code(to_wareki(day).code) == day
        day = date.fromordinal(day.toordinal() + 37)
