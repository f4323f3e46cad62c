"""The income rules without I/O: which years are known, and which assessment of a year is in force."""

from __future__ import annotations

import random
from datetime import date

import pytest
from tax_sync.domain import (
    FIRST_KNOWN_INCOME_YEAR,
    Arrival,
    AssessmentError,
    Outcome,
    apply_in_order,
    check_years,
    decide,
)


def test_the_tax_year_is_the_year_after_the_income_year() -> None:
    check_years(2026, 2025, date(2026, 6, 10))
    with pytest.raises(AssessmentError, match=r"income_year\) \+ 1") as caught:
        check_years(2025, 2025, date(2026, 6, 10))
    assert caught.value.error_class == "unknown_year"


def test_an_income_year_before_the_known_ones_is_refused() -> None:
    check_years(FIRST_KNOWN_INCOME_YEAR + 1, FIRST_KNOWN_INCOME_YEAR, date(FIRST_KNOWN_INCOME_YEAR + 1, 6, 1))
    with pytest.raises(AssessmentError, match="is not known"):
        check_years(FIRST_KNOWN_INCOME_YEAR, FIRST_KNOWN_INCOME_YEAR - 1, date(FIRST_KNOWN_INCOME_YEAR, 6, 1))


def test_an_income_year_that_has_not_ended_cannot_be_assessed() -> None:
    check_years(2026, 2025, date(2026, 1, 1))  # 賦課期日: 1 January of the tax year
    with pytest.raises(AssessmentError, match="has not ended"):
        check_years(2026, 2025, date(2025, 12, 31))


@pytest.mark.parametrize(
    ("current", "incoming", "outcome"),
    [
        (None, 0, Outcome.DETERMINED),
        (None, 3, Outcome.DETERMINED),  # the first figure we see may already be a correction
        (0, 1, Outcome.CORRECTED),
        (1, 1, Outcome.DUPLICATE),
        (2, 1, Outcome.STALE),
    ],
)
def test_a_higher_correction_sequence_supersedes_others_change_nothing(
    current: int | None, incoming: int, outcome: Outcome
) -> None:
    assert decide(current, incoming) is outcome


def test_out_of_order_corrections_end_at_the_highest_sequence_whatever_the_order() -> None:
    rng = random.Random(11)
    for _ in range(200):
        seqs = [rng.randrange(5) for _ in range(rng.randrange(1, 8))]
        current: dict[object, int] = {}
        outcomes = apply_in_order(current, [Arrival("k", s) for s in seqs])
        assert current["k"] == max(seqs)
        assert outcomes[0] is Outcome.DETERMINED
        applied = [s for s, o in zip(seqs, outcomes, strict=True) if o in (Outcome.DETERMINED, Outcome.CORRECTED)]
        assert applied == sorted(set(applied))  # the applied ones rise strictly
