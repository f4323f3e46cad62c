"""Applications (免除・納付猶予・学生納付特例申請) and the checks made before any income is screened.

An application is refused — with the rule it breaks, in words staff can read to the applicant — when:
its period is not within one 年度 (July–June; April–March for 学特); it reaches back further than the month
2 years and 1 month before the application month (the 2-year collection limit, 国民年金法102条4項, is the
same line: the premium of month m falls due at the end of m+1 and is time-barred 2 years later); it is for a
年度 after the current one; it asks 納付猶予 for a month from the month the applicant reaches 50; a month is
not a 第1号被保険者 month (任意加入 has no exemption, 附則5条); 学特 names no school.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from ..domain.age import age_reached_on
from ..domain.categories import InsuredCategory
from ..domain.months import YearMonth
from ..domain.periods import QualificationHistory
from .parameters import PAYMENT_DEFERRAL_AGE_LIMIT
from .screening import ApplicationKind, JobLoss, Tier

RETROACTIVE_MONTHS = 25
"""申請できる最も古い月: the month 2 years and 1 month (25 months) before the application month."""


@dataclass(frozen=True)
class Application:
    """免除等申請 as the rules read it."""

    kind: ApplicationKind
    applicant: str  # 宛名番号
    applied_on: date  # 受付日
    first_month: YearMonth
    last_month: YearMonth
    requested_tier: Tier | None = None  # None: the highest tier that passes (申請免除)
    spouse: str | None = None  # 配偶者の宛名番号 as the form states it (overrides the resident record)
    school: str | None = None  # 学校名 (学特)
    job_losses: tuple[JobLoss, ...] = ()
    continuation: bool = False  # 継続審査の希望 (全額免除・納付猶予)


class ApplicationRefusal(StrEnum):
    """不受理の理由 (申請)."""

    UNKNOWN_PERSON = "unknown_person"
    PERIOD_REVERSED = "period_reversed"
    PERIOD_SPANS_YEARS = "period_spans_years"
    BEYOND_RETROACTIVE_LIMIT = "beyond_retroactive_limit"
    FUTURE_YEAR = "future_year"
    OVER_AGE_LIMIT = "over_age_limit"
    NOT_CATEGORY_1 = "not_category_1"
    VOLUNTARY_INSURED = "voluntary_insured"
    NO_SCHOOL = "no_school"
    TIER_NOT_OF_KIND = "tier_not_of_kind"
    # 届出 (法定免除・産前産後免除: notifications.py)
    ALREADY_STATUTORY = "already_statutory"
    NO_STATUTORY_EXEMPTION = "no_statutory_exemption"
    TOO_EARLY = "too_early"
    NOT_IN_FORCE = "not_in_force"


@dataclass(frozen=True)
class Refusal:
    reason: ApplicationRefusal
    rule: str
    message: str


def validate(application: Application, birth: date, history: QualificationHistory) -> tuple[Refusal, ...]:
    """Every reason the application cannot be screened (empty when it can), in the order staff check them."""
    a = application
    year = a.kind.screening_year
    refusals: list[Refusal] = []
    if a.last_month < a.first_month:
        return (Refusal(ApplicationRefusal.PERIOD_REVERSED, "申請期間", "申請期間の終期が始期より前です"),)
    if year.year_of(a.first_month) != year.year_of(a.last_month):
        first, last = year.months_of(year.year_of(a.first_month))
        refusals.append(
            Refusal(
                ApplicationRefusal.PERIOD_SPANS_YEARS,
                "国民年金法90条の3" if a.kind is ApplicationKind.STUDENT_DEFERRAL else "国民年金法90条1項",
                f"申請期間は1つの年度（{first}〜{last}）の中で指定してください",
            )
        )
    applied_month = YearMonth.of(a.applied_on)
    earliest = applied_month.plus(-RETROACTIVE_MONTHS)
    if a.first_month < earliest:
        refusals.append(
            Refusal(
                ApplicationRefusal.BEYOND_RETROACTIVE_LIMIT,
                "申請可能期間 (申請月の2年1か月前まで), 国民年金法102条4項 (徴収の時効)",
                f"{earliest}より前の月は申請できません（申請月の2年1か月前まで）",
            )
        )
    current_last = year.months_of(year.year_of(applied_month))[1]
    if a.last_month > current_last:
        refusals.append(
            Refusal(
                ApplicationRefusal.FUTURE_YEAR,
                "申請期間",
                f"{current_last}より後の月は、その年度が始まってから申請してください",
            )
        )
    if a.requested_tier is not None and (
        a.kind is not ApplicationKind.EXEMPTION or a.requested_tier in (Tier.PAYMENT_DEFERRAL, Tier.STUDENT_DEFERRAL)
    ):
        refusals.append(Refusal(ApplicationRefusal.TIER_NOT_OF_KIND, "申請の種類", "区分の指定は申請免除のみです"))
    if a.kind is ApplicationKind.PAYMENT_DEFERRAL:
        refusals.extend(_age_limit(a, birth))
    if a.kind is ApplicationKind.STUDENT_DEFERRAL and not (a.school or "").strip():
        refusals.append(
            Refusal(
                ApplicationRefusal.NO_SCHOOL,
                "国民年金法90条の3第1項 (学校教育法に規定する学生等)",
                "学校名・在学期間の記載が必要です",
            )
        )
    refusals.extend(_category_1_months(a, history))
    return tuple(refusals)


def _age_limit(a: Application, birth: date) -> list[Refusal]:
    """納付猶予: only months before the month the applicant reaches the age limit (50, in force then)."""
    limit = PAYMENT_DEFERRAL_AGE_LIMIT.entry_on(a.last_month.first_day)
    reached = age_reached_on(birth, limit.value)
    if a.last_month >= YearMonth.of(reached):
        return [
            Refusal(
                ApplicationRefusal.OVER_AGE_LIMIT,
                limit.source,
                f"納付猶予は{limit.value}歳に達する日（{reached.isoformat()}）の属する月の前月"
                f"（{YearMonth.of(reached).plus(-1)}）までです",
            )
        ]
    return []


def category_1_months(history: QualificationHistory, first: YearMonth, last: YearMonth) -> dict[YearMonth, bool]:
    """For each month asked about: True if 第1号, False if 任意加入; absent if not insured that month."""
    as_of = last.plus(1).first_day  # months are counted up to the end of the period asked about
    low, high = _index(first), _index(last)
    found: dict[int, bool] = {}
    for period in history.periods:
        if period.category not in (InsuredCategory.CATEGORY_1, InsuredCategory.VOLUNTARY):
            continue
        span = period.month_span(as_of=as_of)
        if span is None:
            continue
        category_1 = period.category is InsuredCategory.CATEGORY_1
        for index in range(max(_index(span[0]), low), min(_index(span[1]), high) + 1):
            found[index] = category_1
    return {YearMonth(i // 12, i % 12 + 1): cat1 for i, cat1 in sorted(found.items())}


def _index(month: YearMonth) -> int:
    return month.year * 12 + month.month - 1


def _category_1_months(a: Application, history: QualificationHistory) -> list[Refusal]:
    months = category_1_months(history, a.first_month, a.last_month)
    refusals = []
    voluntary = sorted(m for m, cat1 in months.items() if not cat1)
    if voluntary:
        refusals.append(
            Refusal(
                ApplicationRefusal.VOLUNTARY_INSURED,
                "国民年金法附則5条 (任意加入被保険者に免除の規定は適用しない)",
                f"任意加入被保険者の期間は免除等の対象外です（{voluntary[0]}〜{voluntary[-1]}）",
            )
        )
    missing = [
        YearMonth(i // 12, i % 12 + 1)
        for i in range(_index(a.first_month), _index(a.last_month) + 1)
        if YearMonth(i // 12, i % 12 + 1) not in months
    ]
    if missing:
        refusals.append(
            Refusal(
                ApplicationRefusal.NOT_CATEGORY_1,
                "国民年金法90条1項 (第1号被保険者)",
                f"第1号被保険者でない月が含まれています（{missing[0]}〜{missing[-1]}の{len(missing)}か月）",
            )
        )
    return refusals
