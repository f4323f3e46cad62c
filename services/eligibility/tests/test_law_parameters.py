"""Dated parameter tables (適用期間付きの定数表): a past period is judged by the value in force then."""

from __future__ import annotations

from datetime import date

import pytest
from eligibility.domain import Dated, DatedTable, NotInForceError

D = date.fromisoformat

# 学生納付特例's constant changed in 2021-04 (domain brief §3): a realistic two-entry table.
STUDENT_DEFERRAL_CONSTANT = DatedTable[int](
    "学特の定額",
    (
        Dated(1_280_000, valid_from=D("2021-04-01"), source="2021-04〜"),
        Dated(1_180_000, valid_from=D("2000-04-01"), valid_to=D("2021-03-31"), source="〜2021-03"),
    ),
)


@pytest.mark.parametrize(
    ("on", "value"),
    [
        pytest.param("2000-04-01", 1_180_000, id="first-day-of-the-old-value"),
        pytest.param("2021-03-31", 1_180_000, id="valid_to-is-inclusive"),
        pytest.param("2021-04-01", 1_280_000, id="first-day-of-the-new-value"),
        pytest.param("2099-12-31", 1_280_000, id="open-ended-entry-stays-in-force"),
    ],
)
def test_the_value_in_force_on_a_day(on: str, value: int) -> None:
    assert STUDENT_DEFERRAL_CONSTANT.on(D(on)) == value


def test_entries_are_kept_in_date_order() -> None:
    assert [entry.valid_from for entry in STUDENT_DEFERRAL_CONSTANT.entries] == [D("2000-04-01"), D("2021-04-01")]


def test_a_day_before_any_entry_cannot_be_judged() -> None:
    with pytest.raises(NotInForceError, match="1999-03-31"):
        STUDENT_DEFERRAL_CONSTANT.on(D("1999-03-31"))


def test_overlapping_entries_are_refused() -> None:
    with pytest.raises(ValueError, match="overlap"):
        DatedTable[int]("bad", (Dated(1, valid_from=D("2020-01-01")), Dated(2, valid_from=D("2021-01-01"))))


def test_an_entry_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="before valid_from"):
        Dated(1, valid_from=D("2021-01-01"), valid_to=D("2020-12-31"))
