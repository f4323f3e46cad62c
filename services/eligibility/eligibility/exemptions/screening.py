"""Income screening (所得審査) of 申請免除, 納付猶予 and 学生納付特例 — pure, dated, explained.

For each tier the application asks about, each person the law names is checked on their own 所得情報 of the
income year the month is judged on:

| tier | persons | limit |
|---|---|---|
| 全額免除 (90条1項1号, 施行令6条の7) | 本人・配偶者・世帯主 | (扶養親族等の数 + 1) × 35万円 + 32万円 |
| 4分の3免除 (90条の2第1項) | 本人・配偶者・世帯主 | 88万円 + 扶養親族等控除額 + 社会保険料控除額等 |
| 半額免除 (90条の2第2項) | 本人・配偶者・世帯主 | 128万円 + 扶養親族等控除額 + 社会保険料控除額等 |
| 4分の1免除 (90条の2第3項) | 本人・配偶者・世帯主 | 168万円 + 扶養親族等控除額 + 社会保険料控除額等 |
| 納付猶予 (平成26年法律64号附則14条) | 本人・配偶者 | as 全額免除 |
| 学生納付特例 (90条の3) | 本人 | 128万円 + 扶養親族等控除額 + 社会保険料控除額等 |

(constants of the month judged: see parameters.py.) A 障害者・寡婦・ひとり親 whose income is at most 135万円
meets the test of every tier (90条1項3号); a person who lost their job (失業等による特例, 90条1項4号) is read
with an income of 0 yen. A person without a 所得情報 for the year is **income unknown** — never a pass.
The municipality screens; JPS decides (承認・却下).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import cached_property

from ..domain.months import YearMonth
from .income import DeductionBreakdown, IncomeFigures, deductions
from .parameters import (
    EXEMPTION_INCOME_LIMITS,
    FULL_EXEMPTION_COMPARES_INCOME_BEFORE_DEDUCTIONS,
    SPECIAL_PERSONS_LIMIT,
    STUDENT_DEFERRAL_CONSTANT,
)
from .periods import ScreeningYear


class Tier(StrEnum):
    """免除等の区分 (values match PremiumStatus of the 付加保険料 rule)."""

    FULL = "full_exemption"  # 全額免除
    THREE_QUARTERS = "three_quarter_exemption"  # 4分の3免除
    HALF = "half_exemption"  # 半額免除
    QUARTER = "quarter_exemption"  # 4分の1免除
    PAYMENT_DEFERRAL = "payment_deferral"  # 納付猶予
    STUDENT_DEFERRAL = "student_deferral"  # 学生納付特例

    @property
    def label_ja(self) -> str:
        return _TIER_LABELS[self]

    @property
    def article(self) -> str:
        return _TIER_ARTICLES[self]


_TIER_LABELS = {
    Tier.FULL: "全額免除",
    Tier.THREE_QUARTERS: "4分の3免除",
    Tier.HALF: "半額免除",
    Tier.QUARTER: "4分の1免除",
    Tier.PAYMENT_DEFERRAL: "納付猶予",
    Tier.STUDENT_DEFERRAL: "学生納付特例",
}

_TIER_ARTICLES = {
    Tier.FULL: "国民年金法90条1項1号, 施行令6条の7",
    Tier.THREE_QUARTERS: "国民年金法90条の2第1項1号",
    Tier.HALF: "国民年金法90条の2第2項1号",
    Tier.QUARTER: "国民年金法90条の2第3項1号",
    Tier.PAYMENT_DEFERRAL: "平成26年法律64号附則14条1項 (施行令6条の7の額)",
    Tier.STUDENT_DEFERRAL: "国民年金法90条の3第1項1号",
}

EXEMPTION_TIERS = (Tier.FULL, Tier.THREE_QUARTERS, Tier.HALF, Tier.QUARTER)
"""申請免除's tiers from the strictest to the most lenient: the decision is the first one that passes."""


class ApplicationKind(StrEnum):
    """申請の種類."""

    EXEMPTION = "exemption"  # 申請免除 (全額・4分の3・半額・4分の1)
    PAYMENT_DEFERRAL = "payment_deferral"  # 納付猶予
    STUDENT_DEFERRAL = "student_deferral"  # 学生納付特例

    @property
    def screening_year(self) -> ScreeningYear:
        if self is ApplicationKind.STUDENT_DEFERRAL:
            return ScreeningYear.APRIL_TO_MARCH
        return ScreeningYear.JULY_TO_JUNE

    @property
    def label_ja(self) -> str:
        return {
            ApplicationKind.EXEMPTION: "申請免除",
            ApplicationKind.PAYMENT_DEFERRAL: "納付猶予",
            ApplicationKind.STUDENT_DEFERRAL: "学生納付特例",
        }[self]


class Role(StrEnum):
    """審査対象者の続柄上の立場."""

    APPLICANT = "applicant"  # 本人
    SPOUSE = "spouse"  # 配偶者
    HOUSEHOLDER = "householder"  # 世帯主

    @property
    def label_ja(self) -> str:
        return {Role.APPLICANT: "本人", Role.SPOUSE: "配偶者", Role.HOUSEHOLDER: "世帯主"}[self]


_ROLES_CHECKED: dict[Tier, tuple[Role, ...]] = {
    **{tier: (Role.APPLICANT, Role.SPOUSE, Role.HOUSEHOLDER) for tier in EXEMPTION_TIERS},
    Tier.PAYMENT_DEFERRAL: (Role.APPLICANT, Role.SPOUSE),  # 世帯主の所得は問わない
    Tier.STUDENT_DEFERRAL: (Role.APPLICANT,),  # 本人のみ
}


def roles_checked(tier: Tier) -> tuple[Role, ...]:
    """Whose income the tier looks at."""
    return _ROLES_CHECKED[tier]


def tiers_of(kind: ApplicationKind, requested: Tier | None = None) -> tuple[Tier, ...]:
    """The tiers screened for an application: 申請免除 asks for the highest tier that passes unless it names
    one; 納付猶予 and 学特 have one each."""
    match kind:
        case ApplicationKind.EXEMPTION:
            if requested is None:
                return EXEMPTION_TIERS
            if requested not in EXEMPTION_TIERS:
                raise ValueError(f"{requested.label_ja} is not a tier of 申請免除")
            return (requested,)
        case ApplicationKind.PAYMENT_DEFERRAL:
            return (Tier.PAYMENT_DEFERRAL,)
        case ApplicationKind.STUDENT_DEFERRAL:
            return (Tier.STUDENT_DEFERRAL,)
    raise AssertionError(kind)


class ProofKind(StrEnum):
    """失業等の事実を明らかにする書類."""

    EMPLOYMENT_INSURANCE_CERTIFICATE = "employment_insurance_certificate"  # 雇用保険受給資格者証
    SEPARATION_NOTICE = "separation_notice"  # 雇用保険被保険者離職票
    BUSINESS_CLOSURE = "business_closure"  # 廃業届等 (事業の廃止・休止)
    OTHER = "other"  # その他 (職員が確認)


@dataclass(frozen=True)
class JobLoss:
    """失業等による特例: the person (宛名番号) who lost their job, when, and the proof shown."""

    atena_number: str
    separated_on: date
    proof: ProofKind


def job_loss_applies(loss: JobLoss, year: ScreeningYear, month: YearMonth) -> bool:
    """特例 covers the months of the 年度 containing the 離職日 and of the next 年度 [unconfirmed: JPS practice
    as published; kept here in one place]."""
    return year.year_of(month) - year.year_of(YearMonth.of(loss.separated_on)) in (0, 1)


class CheckOutcome(StrEnum):
    PASSED = "passed"  # 該当 (基準額以下)
    FAILED = "failed"  # 非該当 (基準額超)
    INCOME_UNKNOWN = "income_unknown"  # 所得不明 (所得情報なし: 未申告・転入等)

    @property
    def label_ja(self) -> str:
        return {
            CheckOutcome.PASSED: "該当",
            CheckOutcome.FAILED: "非該当",
            CheckOutcome.INCOME_UNKNOWN: "所得不明",
        }[self]


@dataclass(frozen=True)
class PersonCheck:
    """One person against one tier: the income used, the limit, the rule and article, and the outcome."""

    tier: Tier
    role: Role
    atena_number: str
    income_year: int
    outcome: CheckOutcome
    income_used: int | None
    limit: int | None
    rule: str
    article: str

    @property
    def explanation(self) -> str:
        head = f"{self.tier.label_ja} {self.role.label_ja}（宛名番号 {self.atena_number}）{self.income_year}年所得: "
        return head + f"{self.rule} → {self.outcome.label_ja}（{self.article}）"


def check_person(
    tier: Tier,
    role: Role,
    atena_number: str,
    figures: IncomeFigures | None,
    month: YearMonth,
    year: ScreeningYear,
    job_loss: JobLoss | None = None,
    *,
    full_compares_before_deductions: bool = FULL_EXEMPTION_COMPARES_INCOME_BEFORE_DEDUCTIONS,
    breakdown: DeductionBreakdown | None = None,
) -> PersonCheck:
    """Screen one person for one tier in the 年度 of ``month`` (its first month: the constants in force then)."""
    income_year = year.income_year_of(month)

    def result(outcome: CheckOutcome, income: int | None, limit: int | None, rule: str, article: str) -> PersonCheck:
        return PersonCheck(tier, role, atena_number, income_year, outcome, income, limit, rule, article)

    if job_loss is not None and job_loss_applies(job_loss, year, month):
        rule = (
            f"失業等による特例: 離職日 {job_loss.separated_on.isoformat()}（{_PROOF_LABELS[job_loss.proof]}）"
            "により所得を0円として審査"
        )
        return result(CheckOutcome.PASSED, 0, None, rule, "国民年金法90条1項4号 (厚生労働省令で定める事由: 失業等)")
    if figures is None:
        rule = f"{income_year}年の所得情報がありません（未申告・転入等）。所得を確認するまで審査できません"
        return result(CheckOutcome.INCOME_UNKNOWN, None, None, rule, tier.article)
    if figures.income_year != income_year:
        raise ValueError(f"income of {figures.income_year} given for a month judged on {income_year}")

    if breakdown is None:
        breakdown = deductions(figures, month.first_day)
    income, limit, rule = _limit_and_income(tier, figures, month, full_compares_before_deductions, breakdown)
    if income <= limit:
        return result(CheckOutcome.PASSED, income, limit, f"{income:,}円 ≤ {rule}", tier.article)
    special = SPECIAL_PERSONS_LIMIT.on(month.first_day)
    if figures.is_disabled_widow_or_single_parent and figures.income <= special:
        who = "・".join(
            label
            for flag, label in (
                (figures.disability.value != "none", "障害者"),
                (figures.widow, "寡婦"),
                (figures.single_parent, "ひとり親"),
            )
            if flag
        )
        return result(
            CheckOutcome.PASSED,
            figures.income,
            special,
            f"{who}で前年所得 {figures.income:,}円 ≤ {special:,}円（{tier.label_ja}の基準 {limit:,}円は超過）",
            "国民年金法90条1項3号 (地方税法295条1項2号の額)",
        )
    return result(CheckOutcome.FAILED, income, limit, f"{income:,}円 > {rule}", tier.article)


def _limit_and_income(
    tier: Tier,
    figures: IncomeFigures,
    month: YearMonth,
    full_compares_before_deductions: bool,
    breakdown: DeductionBreakdown,
) -> tuple[int, int, str]:
    """(income compared, limit, the limit written out for staff)."""
    constants = EXEMPTION_INCOME_LIMITS.on(month.first_day)
    if tier in (Tier.FULL, Tier.PAYMENT_DEFERRAL):
        count = figures.dependants_count
        limit = (count + 1) * constants.full_per_person + constants.full_constant
        text = (
            f"基準額 {limit:,}円 = (扶養親族等の数 {count}人 + 1) × {constants.full_per_person:,}円 + "
            f"{constants.full_constant:,}円"
        )
        if full_compares_before_deductions:
            return figures.income, limit, text
        income = figures.income - breakdown.social_insurance_etc
        return income, limit, text + f"（所得は社会保険料控除額等 {breakdown.social_insurance_etc:,}円を控除後）"
    constant = {
        Tier.THREE_QUARTERS: constants.three_quarters_constant,
        Tier.HALF: constants.half_constant,
        Tier.QUARTER: constants.quarter_constant,
        Tier.STUDENT_DEFERRAL: STUDENT_DEFERRAL_CONSTANT.on(month.first_day),
    }[tier]
    limit = constant + breakdown.dependants + breakdown.social_insurance_etc
    text = (
        f"基準額 {limit:,}円 = {constant:,}円 + 扶養親族等控除額 {breakdown.dependants:,}円"
        f"（{breakdown.dependants_detail}） + 社会保険料控除額等 {breakdown.social_insurance_etc:,}円"
        f"（{breakdown.social_insurance_detail}）"
    )
    return figures.income, limit, text


_PROOF_LABELS = {
    ProofKind.EMPLOYMENT_INSURANCE_CERTIFICATE: "雇用保険受給資格者証",
    ProofKind.SEPARATION_NOTICE: "離職票",
    ProofKind.BUSINESS_CLOSURE: "廃業等の届",
    ProofKind.OTHER: "その他の書類",
}


@dataclass(frozen=True)
class TierResult:
    """One tier for every person it checks: passed only if everyone passed; failed if anyone failed."""

    tier: Tier
    checks: tuple[PersonCheck, ...]

    @cached_property
    def outcome(self) -> CheckOutcome:
        outcomes = {check.outcome for check in self.checks}
        if CheckOutcome.FAILED in outcomes:
            return CheckOutcome.FAILED
        if CheckOutcome.INCOME_UNKNOWN in outcomes:
            return CheckOutcome.INCOME_UNKNOWN
        return CheckOutcome.PASSED


@dataclass(frozen=True)
class Household:
    """世帯: the householder's and the spouse's 宛名番号 (None: none, or the applicant is the householder)."""

    householder: str | None = None
    spouse: str | None = None


def persons_checked(applicant: str, household: Household, tier: Tier) -> tuple[tuple[Role, str], ...]:
    """Who is checked for a tier, each once: a householder who is the applicant or the spouse is not checked
    twice."""
    candidates = {Role.APPLICANT: applicant, Role.SPOUSE: household.spouse, Role.HOUSEHOLDER: household.householder}
    chosen: list[tuple[Role, str]] = []
    seen: list[str] = []
    for role in roles_checked(tier):
        atena = candidates[role]
        if atena is not None and atena not in seen:
            chosen.append((role, atena))
            seen.append(atena)
    return tuple(chosen)


@dataclass(frozen=True)
class YearScreening:
    """The screening of the months of one 年度: every tier asked about, and the decision it leads to.

    ``decision`` is the highest tier that passed; None when none did or when an income is unknown before a
    tier passed (``outcome`` then says which).
    """

    kind: ApplicationKind
    first_month: YearMonth
    last_month: YearMonth
    income_year: int
    household_on: date
    household: Household
    tiers: tuple[TierResult, ...]

    @cached_property
    def decision(self) -> Tier | None:
        for result in self.tiers:
            if result.outcome is CheckOutcome.PASSED:
                return result.tier
            if result.outcome is CheckOutcome.INCOME_UNKNOWN:
                return None
        return None

    @cached_property
    def outcome(self) -> CheckOutcome:
        for result in self.tiers:
            if result.outcome is not CheckOutcome.FAILED:
                return result.outcome
        return CheckOutcome.FAILED

    @cached_property
    def summary(self) -> str:
        period = f"{self.first_month}〜{self.last_month}（{self.income_year}年所得で審査）"
        match self.outcome:
            case CheckOutcome.PASSED:
                assert self.decision is not None
                return f"{self.kind.label_ja} {period}: {self.decision.label_ja}に該当"
            case CheckOutcome.INCOME_UNKNOWN:
                unknown = sorted(
                    {
                        f"{c.role.label_ja}（{c.atena_number}）"
                        for t in self.tiers
                        for c in t.checks
                        if c.outcome is CheckOutcome.INCOME_UNKNOWN
                    }
                )
                return f"{self.kind.label_ja} {period}: 所得不明のため審査未了 — {'、'.join(unknown)}"
            case CheckOutcome.FAILED:
                return f"{self.kind.label_ja} {period}: いずれの区分にも該当しません"
        raise AssertionError(self.outcome)

    @cached_property
    def explanation(self) -> tuple[str, ...]:
        return (self.summary, *(check.explanation for t in self.tiers for check in t.checks))


IncomeLookup = Callable[[str, int], IncomeFigures | None]
"""(宛名番号, 所得年) → that person's income figures, or None when the tax slice has none."""


def household_day(kind: ApplicationKind, first_month: YearMonth, applied_on: date) -> date:
    """The day the household (spouse, householder) is taken on: the application date when the period is in the
    current 年度, the 年度's last day (30 June; 31 March for 学特) for a past one (domain brief §3)."""
    year = kind.screening_year
    fiscal = year.year_of(first_month)
    return applied_on if fiscal >= year.year_of(YearMonth.of(applied_on)) else year.last_day_of(fiscal)


def screen_year(
    kind: ApplicationKind,
    applicant: str,
    first_month: YearMonth,
    last_month: YearMonth,
    *,
    household: Household,
    household_on: date,
    income_of: IncomeLookup,
    requested: Tier | None = None,
    job_losses: tuple[JobLoss, ...] = (),
    full_compares_before_deductions: bool = FULL_EXEMPTION_COMPARES_INCOME_BEFORE_DEDUCTIONS,
) -> YearScreening:
    """Screen the months ``first_month``–``last_month`` of one 年度 with the household of ``household_on``
    (see household_day)."""
    year = kind.screening_year
    if year.year_of(last_month) != year.year_of(first_month):
        raise ValueError(f"{first_month}〜{last_month} spans more than one 年度")
    income_year = year.income_year_of(first_month)
    losses = {loss.atena_number: loss for loss in job_losses}
    # Each person's 所得情報 and deductions are read once, whatever the number of tiers.
    figures: dict[str, IncomeFigures | None] = {}
    breakdowns: dict[str, DeductionBreakdown] = {}
    results = []
    for tier in tiers_of(kind, requested):
        checks = []
        for role, atena in persons_checked(applicant, household, tier):
            if atena not in figures:
                figures[atena] = income_of(atena, income_year)
                found = figures[atena]
                if found is not None and found.income_year == income_year:
                    breakdowns[atena] = deductions(found, first_month.first_day)
            checks.append(
                check_person(
                    tier,
                    role,
                    atena,
                    figures[atena],
                    first_month,
                    year,
                    losses.get(atena),
                    full_compares_before_deductions=full_compares_before_deductions,
                    breakdown=breakdowns.get(atena),
                )
            )
        results.append(TierResult(tier, tuple(checks)))
    return YearScreening(kind, first_month, last_month, income_year, household_on, household, tuple(results))
