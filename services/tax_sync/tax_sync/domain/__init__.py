"""The income part of resident-tax assessments (住民税 所得情報), free of I/O: which years are known and
which of several assessments of a person's income year is in force."""

from .income import (
    FIRST_KNOWN_INCOME_YEAR,
    Arrival,
    AssessmentError,
    Outcome,
    applied,
    apply_in_order,
    check_years,
    decide,
)

__all__ = [
    "FIRST_KNOWN_INCOME_YEAR",
    "Arrival",
    "AssessmentError",
    "Outcome",
    "applied",
    "apply_in_order",
    "check_years",
    "decide",
]
