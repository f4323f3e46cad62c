"""付加保険料 (国民年金法87条の2) and 付加年金 (44条)."""

from __future__ import annotations

from datetime import date

import pytest
from eligibility.domain import (
    AdditionalPremiumRefusal,
    AdditionalPremiumSituation,
    InsuredCategory,
    NotInForceError,
    PremiumStatus,
    YearMonth,
    additional_pension_annual_amount,
    additional_premium_monthly_amount,
    decide_additional_premium,
    deemed_withdrawal_on_joining_fund,
    first_additional_premium_month,
)

D = date.fromisoformat
R = AdditionalPremiumRefusal
CAT1 = InsuredCategory.CATEGORY_1


@pytest.mark.parametrize(
    ("category", "status", "fund_member", "refusal"),
    [
        pytest.param(CAT1, PremiumStatus.PAYING, False, None, id="第1号-paying-may-pay"),
        pytest.param(InsuredCategory.VOLUNTARY, PremiumStatus.PAYING, False, None, id="任意加入-may-pay"),
        pytest.param(CAT1, PremiumStatus.PRE_POSTNATAL_EXEMPTION, False, None, id="産前産後免除-may-pay"),
        pytest.param(CAT1, PremiumStatus.STATUTORY_EXEMPTION, False, R.STATUTORY_EXEMPTION, id="法定免除"),
        pytest.param(CAT1, PremiumStatus.FULL_EXEMPTION, False, R.FULL_EXEMPTION, id="全額免除"),
        pytest.param(CAT1, PremiumStatus.THREE_QUARTER_EXEMPTION, False, R.PARTIAL_EXEMPTION, id="4分の3免除"),
        pytest.param(CAT1, PremiumStatus.HALF_EXEMPTION, False, R.PARTIAL_EXEMPTION, id="半額免除"),
        pytest.param(CAT1, PremiumStatus.QUARTER_EXEMPTION, False, R.PARTIAL_EXEMPTION, id="4分の1免除"),
        pytest.param(CAT1, PremiumStatus.STUDENT_DEFERRAL, False, R.STUDENT_DEFERRAL, id="学生納付特例"),
        pytest.param(CAT1, PremiumStatus.PAYMENT_DEFERRAL, False, R.PAYMENT_DEFERRAL, id="納付猶予"),
        pytest.param(CAT1, PremiumStatus.PAYING, True, R.PENSION_FUND_MEMBER, id="国民年金基金の加入員"),
        pytest.param(
            InsuredCategory.VOLUNTARY, PremiumStatus.PAYING, True, R.PENSION_FUND_MEMBER, id="任意加入-fund-member"
        ),
        pytest.param(
            InsuredCategory.CATEGORY_2, PremiumStatus.PAYING, False, R.NOT_CATEGORY_1_OR_VOLUNTARY, id="第2号"
        ),
        pytest.param(
            InsuredCategory.CATEGORY_3, PremiumStatus.PAYING, False, R.NOT_CATEGORY_1_OR_VOLUNTARY, id="第3号"
        ),
    ],
)
def test_who_may_pay_the_additional_premium(
    category: InsuredCategory, status: PremiumStatus, fund_member: bool, refusal: R | None
) -> None:
    situation = AdditionalPremiumSituation(category, status, is_pension_fund_member=fund_member)
    decision = decide_additional_premium(situation)
    assert decision.refusal is refusal
    assert decision.allowed is (refusal is None)


def test_every_refusal_is_explained_in_japanese() -> None:
    assert R.PENSION_FUND_MEMBER.label_ja == "国民年金基金の加入員"
    assert all(refusal.label_ja for refusal in R)


@pytest.mark.parametrize(
    ("applied_on", "first_month"),
    [
        pytest.param("2025-04-01", YearMonth(2025, 4), id="first-day-of-the-month"),
        pytest.param("2025-04-30", YearMonth(2025, 4), id="last-day-of-the-month-still-counts-that-month"),
        pytest.param("2025-12-31", YearMonth(2025, 12), id="end-of-year"),
    ],
)
def test_the_additional_premium_starts_with_the_month_of_the_申出(applied_on: str, first_month: YearMonth) -> None:
    assert first_additional_premium_month(D(applied_on)) == first_month


@pytest.mark.parametrize("month", [YearMonth(1974, 1), YearMonth(2025, 4), YearMonth(2026, 3)], ids=str)
def test_the_additional_premium_is_400_yen_a_month(month: YearMonth) -> None:
    assert additional_premium_monthly_amount(month) == 400


def test_no_amount_before_the_table_starts() -> None:
    with pytest.raises(NotInForceError):
        additional_premium_monthly_amount(YearMonth(1973, 12))


def test_joining_a_pension_fund_is_a_withdrawal_on_the_joining_day() -> None:
    assert deemed_withdrawal_on_joining_fund(D("2025-07-15")) == D("2025-07-15")


@pytest.mark.parametrize(
    ("months_paid", "yen"),
    [
        pytest.param(0, 0, id="none-paid"),
        pytest.param(1, 200, id="one-month"),
        pytest.param(120, 24_000, id="ten-years"),
        pytest.param(480, 96_000, id="forty-years"),
    ],
)
def test_the_additional_pension_is_200_yen_a_year_per_month_paid(months_paid: int, yen: int) -> None:
    assert additional_pension_annual_amount(months_paid, D("2026-04-01")) == yen


def test_months_paid_are_never_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        additional_pension_annual_amount(-1, D("2026-04-01"))
