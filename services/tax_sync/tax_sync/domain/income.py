"""所得情報 of a resident-tax assessment, and which assessment is a person's income for a year. No I/O.

個人住民税 is levied on the previous calendar year's income (地方税法32条1項・313条1項: 所得割の課税標準は
前年の所得), so an assessment for 課税年度 N carries the income of 所得年 N − 1. The tax office may correct
(更正) an assessment during the following years (地方税法17条の5: up to 5 years); each correction repeats
the whole income part with a higher 更正連番, and the latest is the one in force.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

FIRST_KNOWN_INCOME_YEAR = 2000
"""The earliest 所得年 the slice accepts. Exemption screening reaches back at most 2 years and 1 month
(国民年金法90条1項, 施行規則77条の2), and the parameter tables start well before that; an older year is
a data error (e.g. a 和暦 year written as a western year)."""


class AssessmentError(ValueError):
    """An assessment that cannot be accepted; the message names the field and the rule, never a value
    that could identify the person."""

    def __init__(self, reason: str, error_class: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error_class = error_class


def check_years(tax_year: int, income_year: int, assessed_on: date) -> None:
    """The years of an assessment must be ones the law knows (raises ``AssessmentError``: unknown_year).

    - 課税年度 = 所得年 + 1 (地方税法313条1項: the previous year's income);
    - 所得年 from ``FIRST_KNOWN_INCOME_YEAR``;
    - the income year has ended before the assessment is made (賦課期日 is 1 January of the 課税年度,
      地方税法39条・318条), i.e. the assessment date lies in the 課税年度 or later.
    """
    if tax_year != income_year + 1:
        raise AssessmentError("課税年度 (tax_year) must be 所得年 (income_year) + 1", "unknown_year")
    if income_year < FIRST_KNOWN_INCOME_YEAR:
        raise AssessmentError(f"所得年 (income_year) before {FIRST_KNOWN_INCOME_YEAR} is not known", "unknown_year")
    if assessed_on.year < tax_year:
        raise AssessmentError(
            "所得年 (income_year) has not ended by the 賦課決定日 (assessed_on): unknown year", "unknown_year"
        )


class Outcome(StrEnum):
    """What an incoming assessment does to the slice."""

    DETERMINED = "determined"  # first figure for this person and income year
    CORRECTED = "corrected"  # a higher 更正連番: supersedes the current figure
    DUPLICATE = "duplicate"  # the same 更正連番 again: no-op
    STALE = "stale"  # a lower 更正連番 than one already applied (arrived out of order): no-op


def decide(current_seq: int | None, incoming_seq: int) -> Outcome:
    """One assessment against the person's current figure for that year (``None``: none yet)."""
    if current_seq is None:
        return Outcome.DETERMINED
    if incoming_seq > current_seq:
        return Outcome.CORRECTED
    if incoming_seq == current_seq:
        return Outcome.DUPLICATE
    return Outcome.STALE


@dataclass(frozen=True)
class Arrival:
    """An assessment in arrival order: its key (宛名番号, 所得年) and 更正連番."""

    key: Hashable
    seq: int


def apply_in_order(current: dict[Hashable, int], arrivals: Sequence[Arrival]) -> list[Outcome]:
    """The outcome of each arrival when applied one after the other (the reference the set-based SQL
    in ``adapters.repository`` must agree with). ``current`` is updated in place."""
    outcomes: list[Outcome] = []
    for arrival in arrivals:
        outcome = decide(current.get(arrival.key), arrival.seq)
        if outcome in (Outcome.DETERMINED, Outcome.CORRECTED):
            current[arrival.key] = arrival.seq
        outcomes.append(outcome)
    return outcomes


def applied(outcomes: Iterable[Outcome]) -> int:
    return sum(1 for o in outcomes if o in (Outcome.DETERMINED, Outcome.CORRECTED))
