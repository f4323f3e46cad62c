"""付加保険料 (additional premium, 国民年金法87条の2) and 付加年金 (additional pension, 43条・44条).

A 第1号 or 任意加入 insured may pay 400 yen a month on top of the flat premium, from the month of the 申出.
Not while any premium is excused by 法定免除, 全額免除, a partial exemption, 学生納付特例 or 納付猶予, nor
while a member of a 国民年金基金 (joining a fund is a deemed withdrawal on the joining day). The pension it
buys is 200 yen a year for each month paid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Final

from .categories import InsuredCategory
from .months import YearMonth
from .parameters import Dated, DatedTable

ADDITIONAL_PREMIUM_MONTHLY_YEN: Final = DatedTable[int](
    "付加保険料の月額 (国民年金法87条の2)",
    (
        Dated(
            400,
            valid_from=date(1974, 1, 1),
            # 350 yen from 1970-10 to 1973-12 in the same source; earlier months are out of scope.
            source="87条の2 (昭和48年法律92号); start month from a municipal history [unconfirmed]",
        ),
    ),
)

ADDITIONAL_PENSION_YEN_PER_MONTH: Final = DatedTable[int](
    "付加年金の額: 納付月数1月あたりの年額 (国民年金法44条)",
    (Dated(200, valid_from=date(1974, 1, 1), source="国民年金法44条; start date [unconfirmed]"),),
)


class PremiumStatus(StrEnum):
    """保険料の納付・免除の状態 of the person for the months in question."""

    PAYING = "paying"  # 納付 (免除等なし)
    STATUTORY_EXEMPTION = "statutory_exemption"  # 法定免除 (89条)
    FULL_EXEMPTION = "full_exemption"  # 全額免除 (90条)
    THREE_QUARTER_EXEMPTION = "three_quarter_exemption"  # 4分の3免除 (90条の2 1項)
    HALF_EXEMPTION = "half_exemption"  # 半額免除 (90条の2 2項)
    QUARTER_EXEMPTION = "quarter_exemption"  # 4分の1免除 (90条の2 3項)
    STUDENT_DEFERRAL = "student_deferral"  # 学生納付特例 (90条の3)
    PAYMENT_DEFERRAL = "payment_deferral"  # 納付猶予 (平成16年改正法附則19条)
    # 88条の2 is not among the exemptions 87条の2 excludes: 付加 may be paid during 産前産後免除.
    PRE_POSTNATAL_EXEMPTION = "pre_postnatal_exemption"  # 産前産後免除 (88条の2)


class AdditionalPremiumRefusal(StrEnum):
    """Why 付加保険料 may not be paid (87条の2)."""

    NOT_CATEGORY_1_OR_VOLUNTARY = "not_category_1_or_voluntary"
    STATUTORY_EXEMPTION = "statutory_exemption"
    FULL_EXEMPTION = "full_exemption"
    PARTIAL_EXEMPTION = "partial_exemption"
    STUDENT_DEFERRAL = "student_deferral"
    PAYMENT_DEFERRAL = "payment_deferral"
    PENSION_FUND_MEMBER = "pension_fund_member"

    @property
    def label_ja(self) -> str:
        return _REFUSAL_LABELS[self]


_REFUSAL_LABELS: dict[AdditionalPremiumRefusal, str] = {
    AdditionalPremiumRefusal.NOT_CATEGORY_1_OR_VOLUNTARY: "第1号被保険者・任意加入被保険者でない",
    AdditionalPremiumRefusal.STATUTORY_EXEMPTION: "法定免除",
    AdditionalPremiumRefusal.FULL_EXEMPTION: "全額免除",
    AdditionalPremiumRefusal.PARTIAL_EXEMPTION: "一部免除（4分の3・半額・4分の1）",
    AdditionalPremiumRefusal.STUDENT_DEFERRAL: "学生納付特例",
    AdditionalPremiumRefusal.PAYMENT_DEFERRAL: "納付猶予",
    AdditionalPremiumRefusal.PENSION_FUND_MEMBER: "国民年金基金の加入員",
}

_REFUSED_STATUSES: dict[PremiumStatus, AdditionalPremiumRefusal] = {
    PremiumStatus.STATUTORY_EXEMPTION: AdditionalPremiumRefusal.STATUTORY_EXEMPTION,
    PremiumStatus.FULL_EXEMPTION: AdditionalPremiumRefusal.FULL_EXEMPTION,
    PremiumStatus.THREE_QUARTER_EXEMPTION: AdditionalPremiumRefusal.PARTIAL_EXEMPTION,
    PremiumStatus.HALF_EXEMPTION: AdditionalPremiumRefusal.PARTIAL_EXEMPTION,
    PremiumStatus.QUARTER_EXEMPTION: AdditionalPremiumRefusal.PARTIAL_EXEMPTION,
    PremiumStatus.STUDENT_DEFERRAL: AdditionalPremiumRefusal.STUDENT_DEFERRAL,
    PremiumStatus.PAYMENT_DEFERRAL: AdditionalPremiumRefusal.PAYMENT_DEFERRAL,
}


@dataclass(frozen=True)
class AdditionalPremiumSituation:
    """What 87条の2 looks at: the category, the premium status, and 国民年金基金 membership (加入員)."""

    category: InsuredCategory
    premium_status: PremiumStatus
    is_pension_fund_member: bool


@dataclass(frozen=True)
class AdditionalPremiumDecision:
    """付加保険料の納付の可否, with the reason when refused."""

    refusal: AdditionalPremiumRefusal | None

    @property
    def allowed(self) -> bool:
        return self.refusal is None


def decide_additional_premium(situation: AdditionalPremiumSituation) -> AdditionalPremiumDecision:
    """付加保険料を納付できるか (国民年金法87条の2): allowed, or refused with the reason.

    第1号 or 任意加入 only (第2号/第3号 pay no premium of their own). The category is checked first, then
    the fund, then the premium status, so one reason is given even when several apply.
    """
    if situation.category not in (InsuredCategory.CATEGORY_1, InsuredCategory.VOLUNTARY):
        return AdditionalPremiumDecision(AdditionalPremiumRefusal.NOT_CATEGORY_1_OR_VOLUNTARY)
    if situation.is_pension_fund_member:
        return AdditionalPremiumDecision(AdditionalPremiumRefusal.PENSION_FUND_MEMBER)
    return AdditionalPremiumDecision(_REFUSED_STATUSES.get(situation.premium_status))


def first_additional_premium_month(applied_on: date) -> YearMonth:
    """付加保険料の納付開始月 (87条の2): the month of the 申出."""
    return YearMonth.of(applied_on)


def additional_premium_monthly_amount(month: YearMonth) -> int:
    """付加保険料の月額 (87条の2) for ``month``, from the dated table (400 yen)."""
    return ADDITIONAL_PREMIUM_MONTHLY_YEN.on(month.first_day)


def deemed_withdrawal_on_joining_fund(joined_fund_on: date) -> date:
    """国民年金基金に加入したとき (87条の2): a 付加 payer who joins a fund is deemed to have withdrawn
    (付加保険料を納付する者でなくなる申出) on the joining day itself."""
    return joined_fund_on


def additional_pension_annual_amount(months_paid: int, on: date) -> int:
    """付加年金の年額 (国民年金法44条): 200 yen × months of 付加保険料 paid, at the rate in force ``on``."""
    if months_paid < 0:
        raise ValueError(f"months paid must not be negative: {months_paid}")
    return ADDITIONAL_PENSION_YEN_PER_MONTH.on(on) * months_paid
