"""Premium exemptions (保険料免除・納付猶予・学生納付特例) and their screening, free of I/O.

Pure rules of 国民年金法 88条の2, 89条, 90条〜90条の3 and 平成26年法律64号附則14条: which months an
application may cover, whose income each tier checks and against which limit, what the person then pays.
Amounts and limits are dated tables (parameters.py); "today" is always a parameter.
"""

from .applications import Application, ApplicationRefusal, Refusal, category_1_months, validate
from .income import DeductionBreakdown, Disability, IncomeFigures, SpouseDeduction, deductions
from .periods import ScreeningYear
from .premiums import monthly_premium, premium_owed, round_to_10_yen, status_in_month
from .screening import (
    EXEMPTION_TIERS,
    ApplicationKind,
    CheckOutcome,
    Household,
    JobLoss,
    PersonCheck,
    ProofKind,
    Role,
    Tier,
    TierResult,
    YearScreening,
    check_person,
    household_day,
    persons_checked,
    roles_checked,
    screen_year,
    tiers_of,
)
from .statutory import MonthRange, NotInForceYet, StatutoryReason, pre_postnatal_months, statutory_exemption_months

__all__ = [
    "EXEMPTION_TIERS",
    "Application",
    "ApplicationKind",
    "ApplicationRefusal",
    "CheckOutcome",
    "DeductionBreakdown",
    "Disability",
    "Household",
    "IncomeFigures",
    "JobLoss",
    "MonthRange",
    "NotInForceYet",
    "PersonCheck",
    "ProofKind",
    "Refusal",
    "Role",
    "ScreeningYear",
    "SpouseDeduction",
    "StatutoryReason",
    "Tier",
    "TierResult",
    "YearScreening",
    "category_1_months",
    "check_person",
    "deductions",
    "household_day",
    "monthly_premium",
    "persons_checked",
    "pre_postnatal_months",
    "premium_owed",
    "roles_checked",
    "round_to_10_yen",
    "screen_year",
    "status_in_month",
    "statutory_exemption_months",
    "tiers_of",
    "validate",
]
