"""年齢計算ニ関スル法律 + 民法143条: a person reaches age N on the day before the Nth birthday."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from eligibility.domain import AgeBand, Dated, DatedTable, NotInForceError, age_on, age_reached_on, day_reaching_age
from hypothesis import given
from hypothesis import strategies as st

D = date.fromisoformat
ONE_DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("birth", "age", "reached_on"),
    [
        pytest.param("2006-04-01", 20, "2026-03-31", id="born-1-April-reaches-20-on-31-March"),
        pytest.param("2006-04-02", 20, "2026-04-01", id="born-2-April-reaches-20-on-1-April"),
        pytest.param("1966-04-02", 60, "2026-04-01", id="60歳到達日-of-the-worked-example"),
        pytest.param("1966-04-01", 60, "2026-03-31", id="born-1-April-reaches-60-on-31-March"),
        pytest.param("2005-03-31", 20, "2025-03-30", id="born-31-March"),
        pytest.param("2006-01-01", 20, "2025-12-31", id="born-1-January-reaches-age-in-the-previous-year"),
        pytest.param("2006-06-01", 20, "2026-05-31", id="born-on-the-1st-reaches-on-the-last-day-of-the-month"),
        pytest.param("2006-03-01", 20, "2026-02-28", id="born-1-March-non-leap-target-year"),
        pytest.param("2004-03-01", 20, "2024-02-29", id="born-1-March-leap-target-year-reaches-on-29-February"),
        pytest.param("2004-02-29", 20, "2024-02-28", id="born-29-February-leap-target-year-28-February"),
        pytest.param("2004-02-29", 21, "2025-02-28", id="born-29-February-non-leap-target-year-28-February"),
        pytest.param("2000-02-29", 60, "2060-02-28", id="born-29-February-60歳到達日"),
        pytest.param("2000-02-29", 1, "2001-02-28", id="born-29-February-first-year"),
        pytest.param("2006-12-31", 20, "2026-12-30", id="born-31-December"),
        pytest.param("2006-05-17", 0, "2006-05-17", id="age-0-is-held-from-birth"),
    ],
)
def test_a_person_reaches_an_age_on_the_day_before_the_birthday(birth: str, age: int, reached_on: str) -> None:
    assert age_reached_on(D(birth), age) == D(reached_on)


@pytest.mark.parametrize(
    ("birth", "on", "age"),
    [
        pytest.param("2006-04-01", "2026-03-30", 19, id="born-1-April-day-before-20歳到達日"),
        pytest.param("2006-04-01", "2026-03-31", 20, id="born-1-April-on-20歳到達日"),
        pytest.param("2006-04-01", "2026-04-01", 20, id="born-1-April-on-the-birthday"),
        pytest.param("2004-02-29", "2024-02-27", 19, id="born-29-February-two-days-before"),
        pytest.param("2004-02-29", "2024-02-28", 20, id="born-29-February-on-28-February-leap-year"),
        pytest.param("2004-02-29", "2024-02-29", 20, id="born-29-February-on-the-birthday"),
        pytest.param("2004-02-29", "2025-02-27", 20, id="born-29-February-non-leap-year-before"),
        pytest.param("2004-02-29", "2025-02-28", 21, id="born-29-February-non-leap-year-28-February"),
        pytest.param("2006-01-01", "2025-12-31", 20, id="born-1-January-on-31-December"),
        pytest.param("2006-01-01", "2025-12-30", 19, id="born-1-January-on-30-December"),
        pytest.param("2006-05-17", "2006-05-17", 0, id="day-of-birth"),
    ],
)
def test_age_on_a_day(birth: str, on: str, age: int) -> None:
    assert age_on(D(birth), D(on)) == age


def test_a_negative_age_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        age_reached_on(D("2000-01-01"), -1)


def test_there_is_no_age_before_birth() -> None:
    with pytest.raises(ValueError, match="before the birth"):
        age_on(D("2000-01-02"), D("2000-01-01"))


# A band that changes on 2030-01-01 shows that a threshold is the one in force on the day it is reached.
_CHANGING_BAND = DatedTable[AgeBand](
    "test band",
    (
        Dated(AgeBand(20, 60), valid_from=D("1986-04-01"), valid_to=D("2029-12-31")),
        Dated(AgeBand(20, 65), valid_from=D("2030-01-01")),
    ),
)


@pytest.mark.parametrize(
    ("birth", "reached_on"),
    [
        pytest.param("1960-06-01", "2020-05-31", id="reaches-60-while-60-is-in-force"),
        pytest.param("1969-12-31", "2029-12-30", id="reaches-60-on-the-last-days-of-the-old-rule"),
        pytest.param("1980-06-01", "2045-05-31", id="would-reach-60-after-the-change-so-65-applies"),
    ],
)
def test_an_age_threshold_is_the_one_in_force_on_the_day_it_is_reached(birth: str, reached_on: str) -> None:
    assert day_reaching_age(D(birth), _CHANGING_BAND, lambda band: band.until_age) == D(reached_on)


def test_an_age_threshold_not_yet_in_force_cannot_be_judged() -> None:
    with pytest.raises(NotInForceError):
        day_reaching_age(D("1900-01-01"), _CHANGING_BAND, lambda band: band.until_age)


# --- properties, including 29 February births --------------------------------------------------------------------

_LEAP_YEARS = [year for year in range(1904, 2097) if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)]
births = st.one_of(
    st.dates(min_value=D("1900-01-01"), max_value=D("2100-12-31")),
    st.sampled_from(_LEAP_YEARS).map(lambda year: date(year, 2, 29)),
)
ages = st.integers(min_value=0, max_value=110)


@given(birth=births, age=ages)
def test_a_person_is_n_from_the_day_they_reach_n_until_the_day_they_reach_n_plus_1(birth: date, age: int) -> None:
    reached = age_reached_on(birth, age)
    assert age_on(birth, reached) == age
    assert age_on(birth, age_reached_on(birth, age + 1) - ONE_DAY) == age
    if age > 0:
        assert age_on(birth, reached - ONE_DAY) == age - 1


@given(birth=births, age=ages)
def test_each_age_is_reached_after_the_previous_one(birth: date, age: int) -> None:
    assert age_reached_on(birth, age) < age_reached_on(birth, age + 1)


@given(birth=births, offsets=st.tuples(st.integers(0, 40_000), st.integers(0, 40_000)))
def test_age_never_goes_down(birth: date, offsets: tuple[int, int]) -> None:
    earlier, later = sorted(birth + timedelta(days=offset) for offset in offsets)
    assert age_on(birth, earlier) <= age_on(birth, later)


@given(birth=births, offset=st.integers(0, 40_000))
def test_age_on_agrees_with_age_reached_on(birth: date, offset: int) -> None:
    on = birth + timedelta(days=offset)
    age = age_on(birth, on)
    assert age_reached_on(birth, age) <= on < age_reached_on(birth, age + 1)


@given(year=st.sampled_from(_LEAP_YEARS), age=st.integers(1, 100))
def test_born_on_29_february_reaches_every_age_on_28_february(year: int, age: int) -> None:
    assert age_reached_on(date(year, 2, 29), age) == date(year + age, 2, 28)
