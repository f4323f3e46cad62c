"""被保険者期間の計算 (国民年金法11条): from the month of acquisition to the month before the month of loss."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from eligibility.domain import (
    SAME_MONTH_ACQUISITION_AND_LOSS_COUNTS_ONE_MONTH,
    YearMonth,
    age_reached_on,
    first_insured_month,
    insured_month_span,
    insured_months,
    last_insured_month,
    loss_on_death,
    loss_on_reaching_60,
)
from hypothesis import given
from hypothesis import strategies as st

D = date.fromisoformat


def ym(text: str) -> YearMonth:
    year, month = text.split("-")
    return YearMonth(int(year), int(month))


# --- the month as a value -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "result"),
    [
        ("2025-11", 1, "2025-12"),
        ("2025-12", 1, "2026-01"),
        ("2026-01", -1, "2025-12"),
        ("2026-03", -12, "2025-03"),
        ("2026-03", 0, "2026-03"),
        ("1986-04", 479, "2026-03"),
    ],
    ids=str,
)
def test_months_are_added_across_years(start: str, months: int, result: str) -> None:
    assert ym(start).plus(months) == ym(result)
    assert ym(result).months_since(ym(start)) == months


def test_a_month_knows_its_day_and_prints_as_year_dash_month() -> None:
    assert YearMonth.of(D("2026-03-31")) == YearMonth(2026, 3)
    assert YearMonth(2026, 3).first_day == D("2026-03-01")
    assert str(YearMonth(2026, 3)) == "2026-03"


def test_there_is_no_thirteenth_month() -> None:
    with pytest.raises(ValueError, match="1–12"):
        YearMonth(2026, 13)


# --- the last insured month (11条1項, 2項) ---------------------------------------------------------------------------


def test_the_worked_example_of_the_domain_brief() -> None:
    """Born 1966-04-02 → 60歳到達日 2026-04-01 → loss 2026-04-01 → last month 2026-03."""
    birth = D("1966-04-02")
    loss = loss_on_reaching_60(birth)
    assert loss.on == D("2026-04-01")
    assert last_insured_month(age_reached_on(birth, 20), loss.on) == ym("2026-03")
    # From the 20歳到達日 1986-04-01 to March 2026: the full 480 months.
    assert insured_months(age_reached_on(birth, 20), loss.on) == 480


def test_death_on_the_last_day_of_a_month_keeps_the_month_of_death() -> None:
    """Died 2024-01-31 → loss 2024-02-01 (the day after) → last insured month 2024-01."""
    loss = loss_on_death(D("2024-01-31"))
    assert loss.on == D("2024-02-01")
    assert last_insured_month(D("2020-05-10"), loss.on) == ym("2024-01")


def test_death_within_a_month_loses_the_month_of_death() -> None:
    """Died 2024-01-30 → loss 2024-01-31 → last insured month 2023-12."""
    assert last_insured_month(D("2020-05-10"), loss_on_death(D("2024-01-30")).on) == ym("2023-12")


@pytest.mark.parametrize(
    ("acquired_on", "lost_on", "last"),
    [
        pytest.param("1986-03-31", "2026-03-31", "2026-02", id="born-1-April-20歳到達日-to-60歳到達日"),
        pytest.param("2024-04-15", "2024-05-01", "2024-04", id="loss-on-the-1st-ends-the-month-before"),
        pytest.param("2024-04-15", "2024-05-31", "2024-04", id="loss-on-the-last-day-ends-the-month-before"),
        pytest.param("2024-02-28", "2024-03-01", "2024-02", id="February-of-a-leap-year"),
        pytest.param("2024-04-10", "2024-04-20", "2024-04", id="same-month-counts-once-11条2項"),
        pytest.param("2024-04-01", "2024-04-01", "2024-04", id="same-day-counts-once-11条2項"),
    ],
)
def test_the_last_insured_month(acquired_on: str, lost_on: str, last: str) -> None:
    assert last_insured_month(D(acquired_on), D(lost_on)) == ym(last)


def test_the_same_month_rule_is_a_named_parameter() -> None:
    """11条2項 [unconfirmed detail]: on by default, and switchable."""
    assert SAME_MONTH_ACQUISITION_AND_LOSS_COUNTS_ONE_MONTH is True
    assert last_insured_month(D("2024-04-10"), D("2024-04-20"), same_month_counts_once=False) is None
    assert insured_months(D("2024-04-10"), D("2024-04-20"), same_month_counts_once=False) == 0


@pytest.mark.parametrize(
    ("acquired_by_change", "lost_by_change"),
    [
        pytest.param(False, True, id="new-qualification-then-第2号-the-same-month"),
        pytest.param(True, False, id="種別変更-into-第1号-then-death-the-same-month"),
        pytest.param(True, True, id="in-and-out-by-種別変更"),
    ],
)
def test_a_same_month_category_change_gives_the_month_to_the_other_category(
    acquired_by_change: bool, lost_by_change: bool
) -> None:
    """11条の2: the month of a 種別変更 counts as the new category, so 第1号 does not get it."""
    assert (
        insured_months(
            D("2024-04-10"),
            D("2024-04-20"),
            acquired_by_category_change=acquired_by_change,
            lost_by_category_change=lost_by_change,
        )
        == 0
    )


# --- counting months ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("acquired_on", "lost_on", "as_of", "months"),
    [
        pytest.param("2024-04-10", "2024-04-20", None, 1, id="same-month-1"),
        pytest.param("2024-01-31", "2024-02-01", None, 1, id="one-day-across-a-month-end-1"),
        pytest.param("2024-01-01", "2025-01-01", None, 12, id="a-calendar-year"),
        pytest.param("2024-01-15", None, "2024-06-30", 6, id="open-period-runs-to-the-month-of-as_of"),
        pytest.param("2024-01-15", None, "2024-01-15", 1, id="open-period-on-its-first-day"),
        pytest.param("2024-01-15", None, "2023-12-31", 0, id="as_of-before-acquisition"),
        pytest.param("2024-01-15", None, "2024-01-14", 0, id="as_of-the-day-before-acquisition-same-month"),
        pytest.param("2024-01-15", "2025-01-01", "2024-03-10", 3, id="closed-period-known-so-far"),
    ],
)
def test_insured_months_of_a_period(acquired_on: str, lost_on: str | None, as_of: str | None, months: int) -> None:
    assert insured_months(D(acquired_on), D(lost_on) if lost_on else None, as_of=D(as_of) if as_of else None) == months


def test_an_open_period_needs_a_day_to_count_to() -> None:
    """The law has no clock: 'today' is a parameter."""
    with pytest.raises(ValueError, match="as_of"):
        insured_months(D("2024-01-15"), None)


def test_the_first_insured_month_is_the_month_of_acquisition() -> None:
    assert first_insured_month(D("2026-03-31")) == ym("2026-03")


# --- properties ---------------------------------------------------------------------------------------------------

days = st.dates(min_value=D("1986-04-01"), max_value=D("2100-12-31"))


@given(
    acquired_on=days,
    length=st.integers(0, 20_000),
    as_of=st.none() | days,
    acquired_by_change=st.booleans(),
    lost_by_change=st.booleans(),
    same_month_once=st.booleans(),
)
def test_insured_months_are_never_negative_and_match_the_span(
    acquired_on: date,
    length: int,
    as_of: date | None,
    acquired_by_change: bool,
    lost_by_change: bool,
    same_month_once: bool,
) -> None:
    lost_on = acquired_on + timedelta(days=length)
    flags = {
        "acquired_by_category_change": acquired_by_change,
        "lost_by_category_change": lost_by_change,
        "same_month_counts_once": same_month_once,
    }
    months = insured_months(acquired_on, lost_on, as_of=as_of, **flags)
    span = insured_month_span(acquired_on, lost_on, as_of=as_of, **flags)
    assert months >= 0
    assert months == (0 if span is None else span[1].months_since(span[0]) + 1)
    # Never more than the calendar months the period touches.
    assert months <= YearMonth.of(lost_on).months_since(YearMonth.of(acquired_on)) + 1


@given(acquired_on=days, as_of=days)
def test_an_open_period_never_has_negative_months(acquired_on: date, as_of: date) -> None:
    months = insured_months(acquired_on, None, as_of=as_of)
    assert months >= 0
    assert (months > 0) is (as_of >= acquired_on)


@given(acquired_on=days, length=st.integers(1, 20_000))
def test_months_across_different_months_are_loss_month_minus_acquisition_month(acquired_on: date, length: int) -> None:
    lost_on = acquired_on + timedelta(days=length)
    if YearMonth.of(lost_on) != YearMonth.of(acquired_on):
        assert insured_months(acquired_on, lost_on) == YearMonth.of(lost_on).months_since(YearMonth.of(acquired_on))
