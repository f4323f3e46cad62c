"""The access-log review's rules on a synthetic month (tests/synthetic_log.py): every planted anomaly is found,
nothing else is flagged; the month's boundaries are Japanese days; the office calendar knows the holidays."""

from __future__ import annotations

from datetime import date

import pytest
from counter.domain.log_analysis import MonthRefused, Rule, Thresholds, parse_month, review_month
from counter.domain.office_calendar import closed_days

from .synthetic_log import MONTH, WIDELY_VIEWED, synthetic_month


def test_the_review_finds_every_planted_anomaly_and_nothing_else() -> None:
    month = synthetic_month()
    review = review_month(MONTH, month.rows, month.failures, closed_days(date(2026, 11, 1), date(2026, 11, 30)),
                          Thresholds())  # fmt: skip
    found = {f.key for f in review.findings}
    assert found == month.planted
    assert len(review.findings) == len(found) + 4  # 4 failed sign-ins share one key, 2 reveals another
    assert review.rows == len(month.rows) - 2  # the two rows outside the month in JST
    assert review.sign_in_failures == 5
    holiday = next(f for f in review.findings if f.rule is Rule.CLOSED_DAY and f.day == date(2026, 11, 3))
    assert "文化の日の10:15に照会" in holiday.detail
    heavy = next(f for f in review.findings if f.rule is Rule.DAILY_VIEWS)
    assert heavy.count > 75  # the planted 75 and that day's ordinary ones
    assert len(heavy.seqs) == heavy.count
    spread = next(f for f in review.findings if f.rule is Rule.MANY_STAFF)
    assert (spread.atena_number, spread.count) == (WIDELY_VIEWED, 7)
    assert review.top_staff_per_person[0] == (WIDELY_VIEWED, 7)
    assert sum(review.rows_per_day.values()) == sum(review.rows_per_hour) == review.rows


def test_the_thresholds_decide_and_a_stricter_one_flags_more() -> None:
    month = synthetic_month()
    calendar = closed_days(date(2026, 11, 1), date(2026, 11, 30))
    strict = review_month(MONTH, month.rows, month.failures, calendar, Thresholds(daily_views=25, failed_sign_ins=1))
    assert sum(1 for f in strict.findings if f.rule is Rule.DAILY_VIEWS) > 1
    assert sum(1 for f in strict.findings if f.rule is Rule.SIGN_IN_REPEATED) == 3  # terminal, s02 and its terminal
    assert (
        "1人の職員が1日に開いた個人の画面 (照会・個人番号表示) が25件を超えた日"
        in dict(Thresholds(daily_views=25).explained())["1日の照会件数"]
    )


def test_holidays_and_the_year_end_are_closed_days() -> None:
    days = closed_days(date(2026, 9, 1), date(2027, 1, 31))
    assert days[date(2026, 9, 21)] == "敬老の日"
    assert days[date(2026, 9, 22)] == "国民の休日"  # between 敬老の日 and 秋分の日
    assert days[date(2026, 11, 3)] == "文化の日"
    assert days[date(2026, 12, 29)] == days[date(2027, 1, 3)] == "年末年始"
    assert days[date(2027, 1, 1)] == "元日"
    assert date(2026, 12, 28) not in days


@pytest.mark.parametrize("value", ["2026-13", "2026-1", "26-11", "2026/11", "", "2026-11-01", "１９９９-01"])
def test_a_month_that_is_not_one_is_refused_in_japanese(value: str) -> None:
    with pytest.raises(MonthRefused, match="月"):
        parse_month(value)


def test_a_month_has_its_days() -> None:
    assert parse_month("2026-12") == (date(2026, 12, 1), date(2026, 12, 31))
    assert parse_month("2028-02") == (date(2028, 2, 1), date(2028, 2, 29))
