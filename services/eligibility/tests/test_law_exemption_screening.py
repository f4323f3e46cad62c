"""Income screening of 免除・納付猶予・学生納付特例 (国民年金法90条〜90条の3, 施行令6条の7, 平成26年法律64号附則14条).

Worked examples computed by hand from the law (limits for months from 2021-07; 学特 from 2021-04):
全額免除 and 納付猶予 (扶養親族等の数 + 1) × 350,000 + 320,000; 4分の3 880,000, 半額 1,280,000, 4分の1
1,680,000 and 学特 1,280,000, each + 扶養親族等控除額 + 社会保険料控除額等.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from eligibility.domain import YearMonth
from eligibility.exemptions import (
    ApplicationKind,
    CheckOutcome,
    Disability,
    Household,
    IncomeFigures,
    JobLoss,
    ProofKind,
    Role,
    ScreeningYear,
    SpouseDeduction,
    Tier,
    check_person,
    deductions,
    household_day,
    persons_checked,
    screen_year,
)
from eligibility.exemptions.household import Member, household_of
from hypothesis import given, settings
from hypothesis import strategies as st

D = date.fromisoformat
M = YearMonth
JULY_2026, JUNE_2027 = YearMonth(2026, 7), YearMonth(2027, 6)
JULY_TO_JUNE = ScreeningYear.JULY_TO_JUNE
APRIL_TO_MARCH = ScreeningYear.APRIL_TO_MARCH
APPLICANT, SPOUSE, HOUSEHOLDER = "1000001", "1000002", "1000003"
PASSED, FAILED, UNKNOWN = CheckOutcome.PASSED, CheckOutcome.FAILED, CheckOutcome.INCOME_UNKNOWN
AGED_16: dict[str, Any] = {"general_dependants_aged_16_to_18": 1}  # one of the 一般扶養 is 16〜18歳


def income(total: int, year: int = 2025, **fields: Any) -> IncomeFigures:
    return IncomeFigures(income_year=year, total_income=total, **fields)


def check(tier: Tier, figures: IncomeFigures | None, month: YearMonth = JULY_2026, **kw: object) -> CheckOutcome:
    year = APRIL_TO_MARCH if tier is Tier.STUDENT_DEFERRAL else JULY_TO_JUNE
    return check_person(tier, Role.APPLICANT, APPLICANT, figures, month, year, **kw).outcome  # type: ignore[arg-type]


# --- 年度 and the income year of each month -----------------------------------------------------


@pytest.mark.parametrize(
    ("year", "month", "fiscal", "income_year"),
    [
        pytest.param(JULY_TO_JUNE, M(2026, 7), 2026, 2025, id="免除-July-opens-the-year"),
        pytest.param(JULY_TO_JUNE, M(2027, 6), 2026, 2025, id="免除-June-closes-it"),
        pytest.param(JULY_TO_JUNE, M(2026, 6), 2025, 2024, id="免除-June-before-is-the-year-before"),
        pytest.param(JULY_TO_JUNE, M(2027, 1), 2026, 2025, id="免除-January-前々年の所得"),
        pytest.param(APRIL_TO_MARCH, M(2026, 4), 2026, 2025, id="学特-April-opens-the-year"),
        pytest.param(APRIL_TO_MARCH, M(2027, 3), 2026, 2025, id="学特-March-closes-it"),
        pytest.param(APRIL_TO_MARCH, M(2026, 3), 2025, 2024, id="学特-March-before"),
    ],
)
def test_which_year_and_income_year_a_month_belongs_to(
    year: ScreeningYear, month: YearMonth, fiscal: int, income_year: int
) -> None:
    assert year.year_of(month) == fiscal
    assert year.income_year_of(month) == income_year


def test_the_last_day_of_a_year_is_30_june_or_31_march() -> None:
    assert JULY_TO_JUNE.last_day_of(2025) == D("2026-06-30")
    assert APRIL_TO_MARCH.last_day_of(2025) == D("2026-03-31")


# --- limits: exactly at the limit passes, one yen over fails ------------------------------------


@pytest.mark.parametrize(
    ("tier", "figures", "limit"),
    [
        pytest.param(Tier.FULL, {}, 670_000, id="全額-no-dependants-(0+1)x35万+32万"),
        pytest.param(Tier.FULL, {"general_dependants": 2}, 1_370_000, id="全額-two-dependants"),
        pytest.param(
            Tier.FULL,
            {"spouse_deduction": SpouseDeduction.GENERAL, "young_dependants": 1},
            1_370_000,
            id="全額-spouse-and-a-child-under-16-count-as-two",
        ),
        pytest.param(Tier.PAYMENT_DEFERRAL, {"elderly_dependants": 1}, 1_020_000, id="猶予-as-全額"),
        pytest.param(Tier.THREE_QUARTERS, {}, 880_000, id="4分の3-no-deductions"),
        pytest.param(
            Tier.THREE_QUARTERS, {"social_insurance_deduction": 200_000}, 1_080_000, id="4分の3-社会保険料控除"
        ),
        pytest.param(Tier.HALF, {}, 1_280_000, id="半額"),
        pytest.param(Tier.QUARTER, {}, 1_680_000, id="4分の1"),
        pytest.param(Tier.STUDENT_DEFERRAL, {}, 1_280_000, id="学特"),
        pytest.param(
            Tier.HALF, {"spouse_deduction": SpouseDeduction.GENERAL}, 1_660_000, id="半額-控除対象配偶者-38万"
        ),
        pytest.param(
            Tier.HALF, {"spouse_deduction": SpouseDeduction.ELDERLY}, 1_760_000, id="半額-老人控除対象配偶者-48万"
        ),
        pytest.param(Tier.HALF, {"general_dependants": 1}, 1_660_000, id="半額-一般扶養-38万"),
        pytest.param(Tier.HALF, {"elderly_dependants": 1}, 1_760_000, id="半額-老人扶養-48万"),
        pytest.param(Tier.HALF, {"specified_dependants": 1}, 1_910_000, id="半額-特定扶養-63万"),
        pytest.param(Tier.HALF, {"young_dependants": 1}, 1_660_000, id="半額-年少扶養-38万"),
        pytest.param(
            Tier.QUARTER,
            {"general_dependants": 1, "specified_dependants": 1, "medical_expense_deduction": 150_000},
            1_680_000 + 380_000 + 630_000 + 150_000,
            id="4分の1-mixed-dependants-and-医療費控除",
        ),
        pytest.param(Tier.HALF, {"working_student": True}, 1_280_000 + 260_000, id="半額-勤労学生控除-住民税26万"),
        # 16〜18歳 (19歳未満の控除対象扶養親族) are 特定扶養親族等: 63万円 each (施行令6条の9ほか), within 一般扶養数.
        pytest.param(Tier.HALF, {**AGED_16, "general_dependants": 1}, 1_280_000 + 630_000, id="半額-16〜18歳-63万"),
        pytest.param(
            Tier.STUDENT_DEFERRAL,
            {**AGED_16, "general_dependants": 2},
            1_280_000 + 380_000 + 630_000,
            id="学特-一般1人38万と16〜18歳1人63万",
        ),
        pytest.param(
            Tier.THREE_QUARTERS,
            {"general_dependants": 1, "general_dependants_aged_16_to_18": 0},
            880_000 + 380_000,
            id="4分の3-known-none-aged-16-to-18-38万",
        ),
        pytest.param(
            Tier.QUARTER, {"general_dependants": 1}, 1_680_000 + 380_000, id="4分の1-16〜18歳-unknown-read-at-38万"
        ),
        pytest.param(Tier.FULL, {**AGED_16, "general_dependants": 1}, 1_020_000, id="全額-counts-them-as-one-each"),
    ],
)
def test_a_limit_is_met_exactly_and_missed_by_one_yen(tier: Tier, figures: dict[str, Any], limit: int) -> None:
    at_limit = income(limit, **figures)
    assert check(tier, at_limit) is PASSED
    assert check(tier, replace(at_limit, total_income=limit + 1)) is FAILED


def test_the_explanation_names_the_deduction_used_for_16_to_18_year_olds_or_that_they_were_not_known() -> None:
    known = check_person(
        Tier.HALF, Role.APPLICANT, APPLICANT, income(0, general_dependants=2, **AGED_16), M(2026, 7), JULY_TO_JUNE
    )
    assert known.limit == 1_280_000 + 380_000 + 630_000
    assert "一般扶養1人×380,000円、16〜18歳の扶養1人×630,000円" in known.explanation
    assert "要確認" not in known.explanation
    unknown = check_person(
        Tier.HALF, Role.APPLICANT, APPLICANT, income(0, general_dependants=2), M(2026, 7), JULY_TO_JUNE
    )
    assert unknown.limit == 1_280_000 + 2 * 380_000  # today's reading, kept for an older producer's record
    assert "所得情報に16〜18歳の扶養親族の数がないため一般扶養は全員380,000円で計算" in unknown.explanation
    assert "1人につき630,000円: 要確認" in unknown.explanation
    # Without any 一般扶養 there is no one aged 16〜18 to miss: no warning.
    assert (
        "要確認"
        not in check_person(
            Tier.HALF, Role.APPLICANT, APPLICANT, income(0, specified_dependants=1), M(2026, 7), JULY_TO_JUNE
        ).explanation
    )


def test_the_person_check_says_the_income_used_the_limit_and_the_article() -> None:
    result = check_person(
        Tier.HALF,
        Role.SPOUSE,
        SPOUSE,
        income(1_700_000, general_dependants=1),
        M(2026, 7),
        JULY_TO_JUNE,
    )
    assert (result.outcome, result.income_used, result.limit, result.income_year) == (
        FAILED,
        1_700_000,
        1_660_000,
        2025,
    )
    assert result.article == "国民年金法90条の2第2項1号"
    assert "一般扶養1人×380,000円" in result.rule
    assert "1,700,000円 > 基準額 1,660,000円" in result.explanation
    assert "配偶者" in result.explanation
    assert "非該当" in result.explanation


def test_net_loss_carried_forward_lowers_the_income_compared() -> None:
    assert check(Tier.FULL, income(700_000, net_loss=30_000)) is PASSED
    assert check(Tier.FULL, income(700_000, net_loss=29_999)) is FAILED


def test_personal_deductions_of_the_tax_record_are_added_at_resident_tax_amounts() -> None:
    figures = income(
        0,
        disability=Disability.DISABLED,
        disabled_dependants=1,
        specially_disabled_dependants=1,
        medical_expense_deduction=100_000,
        single_parent=True,
        widow=True,
    )
    breakdown = deductions(figures, D("2026-07-01"))
    # 障害者 260,000 (本人) + 260,000 + 300,000 (扶養) + 医療費 100,000 + ひとり親 300,000 (寡婦 not as well)
    assert breakdown.social_insurance_etc == 1_220_000
    assert "寡婦控除" not in breakdown.social_insurance_detail


# --- the 2021 change -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tier", "month", "income_year", "limit"),
    [
        pytest.param(Tier.FULL, M(2021, 6), 2019, 570_000, id="全額-June-2021-old-22万"),
        pytest.param(Tier.FULL, M(2021, 7), 2020, 670_000, id="全額-July-2021-new-32万"),
        pytest.param(Tier.THREE_QUARTERS, M(2021, 6), 2019, 780_000, id="4分の3-old"),
        pytest.param(Tier.THREE_QUARTERS, M(2021, 7), 2020, 880_000, id="4分の3-new"),
        pytest.param(Tier.HALF, M(2021, 6), 2019, 1_180_000, id="半額-old"),
        pytest.param(Tier.QUARTER, M(2021, 7), 2020, 1_680_000, id="4分の1-new"),
        pytest.param(Tier.STUDENT_DEFERRAL, M(2021, 3), 2019, 1_180_000, id="学特-March-2021-old"),
        pytest.param(Tier.STUDENT_DEFERRAL, M(2021, 4), 2020, 1_280_000, id="学特-April-2021-new"),
    ],
)
def test_the_constants_in_force_for_the_month_judged(
    tier: Tier, month: YearMonth, income_year: int, limit: int
) -> None:
    assert check(tier, income(limit, year=income_year), month) is PASSED
    assert check(tier, income(limit + 1, year=income_year), month) is FAILED


# --- special rules -------------------------------------------------------------------------------


@pytest.mark.parametrize("flag", [{"single_parent": True}, {"widow": True}, {"disability": Disability.DISABLED}])
def test_disabled_widow_or_single_parent_up_to_1_350_000_passes_every_tier(flag: dict[str, Any]) -> None:
    for tier in (Tier.FULL, Tier.THREE_QUARTERS, Tier.PAYMENT_DEFERRAL, Tier.STUDENT_DEFERRAL):
        month = M(2026, 4) if tier is Tier.STUDENT_DEFERRAL else M(2026, 7)
        assert check(tier, income(1_350_000, **flag), month) is PASSED, tier
    assert check(Tier.FULL, income(1_350_001, **flag)) is FAILED


def test_the_1_350_000_rule_cites_its_article_and_the_limit_it_replaces() -> None:
    result = check_person(Tier.FULL, Role.APPLICANT, APPLICANT, income(1_000_000, widow=True), M(2026, 7), JULY_TO_JUNE)
    assert (result.outcome, result.limit) == (PASSED, 1_350_000)
    assert result.article.startswith("国民年金法90条1項3号")
    assert "寡婦" in result.rule
    assert "670,000円は超過" in result.rule


def test_the_1_350_000_rule_was_1_250_000_before_july_2021() -> None:
    assert check(Tier.FULL, income(1_250_000, year=2019, widow=True), M(2021, 6)) is PASSED
    assert check(Tier.FULL, income(1_250_001, year=2019, widow=True), M(2021, 6)) is FAILED


def test_without_the_status_1_350_000_is_just_over_the_full_limit() -> None:
    assert check(Tier.FULL, income(1_350_000)) is FAILED


def test_job_loss_reads_the_income_as_zero_in_its_year_and_the_next() -> None:
    loss = JobLoss(APPLICANT, D("2026-03-31"), ProofKind.SEPARATION_NOTICE)
    assert check(Tier.FULL, income(5_000_000), M(2026, 7), job_loss=loss) is PASSED  # 年度 2025 → 2026: next
    assert check(Tier.FULL, income(5_000_000, year=2024), M(2025, 7), job_loss=loss) is PASSED  # its own 年度
    assert check(Tier.FULL, income(5_000_000, year=2026), M(2027, 7), job_loss=loss) is FAILED  # two years on
    assert check(Tier.FULL, None, M(2026, 7), job_loss=loss) is PASSED  # no income needed when it is read as 0


def test_the_full_tier_before_deductions_is_a_parameter() -> None:
    figures = income(800_000, social_insurance_deduction=200_000)
    assert check(Tier.FULL, figures, full_compares_before_deductions=True) is FAILED
    assert check(Tier.FULL, figures, full_compares_before_deductions=False) is PASSED


def test_missing_income_is_unknown_never_a_pass() -> None:
    result = check_person(Tier.QUARTER, Role.HOUSEHOLDER, HOUSEHOLDER, None, M(2026, 7), JULY_TO_JUNE)
    assert (result.outcome, result.income_used, result.limit) == (UNKNOWN, None, None)
    assert "2025年の所得情報がありません" in result.rule


def test_an_income_of_another_year_is_refused() -> None:
    with pytest.raises(ValueError, match="2024"):
        check(Tier.FULL, income(0, year=2024), M(2026, 7))


# --- who is checked ------------------------------------------------------------------------------

HOUSEHOLD = Household(householder=HOUSEHOLDER, spouse=SPOUSE)


@pytest.mark.parametrize(
    ("tier", "roles"),
    [
        pytest.param(Tier.FULL, [Role.APPLICANT, Role.SPOUSE, Role.HOUSEHOLDER], id="全額-本人・配偶者・世帯主"),
        pytest.param(Tier.QUARTER, [Role.APPLICANT, Role.SPOUSE, Role.HOUSEHOLDER], id="4分の1-all-three"),
        pytest.param(Tier.PAYMENT_DEFERRAL, [Role.APPLICANT, Role.SPOUSE], id="猶予-no-householder"),
        pytest.param(Tier.STUDENT_DEFERRAL, [Role.APPLICANT], id="学特-applicant-only"),
    ],
)
def test_whose_income_each_tier_checks(tier: Tier, roles: list[Role]) -> None:
    assert [role for role, _ in persons_checked(APPLICANT, HOUSEHOLD, tier)] == roles


def test_a_householder_who_is_the_applicant_or_the_spouse_is_checked_once() -> None:
    assert persons_checked(APPLICANT, Household(householder=APPLICANT, spouse=SPOUSE), Tier.FULL) == (
        (Role.APPLICANT, APPLICANT),
        (Role.SPOUSE, SPOUSE),
    )
    assert persons_checked(APPLICANT, Household(householder=SPOUSE, spouse=SPOUSE), Tier.FULL) == (
        (Role.APPLICANT, APPLICANT),
        (Role.SPOUSE, SPOUSE),
    )


def screen(
    kind: ApplicationKind,
    incomes: dict[str, int | None],
    *,
    first: YearMonth = JULY_2026,
    last: YearMonth = JUNE_2027,
    applied_on: date = date(2026, 7, 10),
    requested: Tier | None = None,
) -> tuple[Tier | None, CheckOutcome, tuple[str, ...]]:
    def income_of(atena: str, year: int) -> IncomeFigures | None:
        amount = incomes.get(atena)
        return None if amount is None else income(amount, year=year)

    result = screen_year(
        kind,
        APPLICANT,
        first,
        last,
        household=HOUSEHOLD,
        household_on=applied_on,
        income_of=income_of,
        requested=requested,
    )
    return result.decision, result.outcome, result.explanation


def test_the_highest_tier_that_passes_is_the_decision() -> None:
    decision, outcome, explanation = screen(
        ApplicationKind.EXEMPTION, {APPLICANT: 0, SPOUSE: 0, HOUSEHOLDER: 1_500_000}
    )
    # The householder's 1,500,000 is over 670,000, 880,000 and 1,280,000 but within 1,680,000.
    assert (decision, outcome) == (Tier.QUARTER, PASSED)
    assert explanation[0] == "申請免除 2026-07〜2027-06（2025年所得で審査）: 4分の1免除に該当"
    assert sum("世帯主" in line and "非該当" in line for line in explanation) == 3


def test_a_householder_over_every_limit_fails_the_exemption() -> None:
    decision, outcome, _ = screen(ApplicationKind.EXEMPTION, {APPLICANT: 0, SPOUSE: 0, HOUSEHOLDER: 2_000_000})
    assert (decision, outcome) == (None, FAILED)


def test_deferral_does_not_look_at_the_householder() -> None:
    decision, outcome, explanation = screen(
        ApplicationKind.PAYMENT_DEFERRAL, {APPLICANT: 0, SPOUSE: 670_000, HOUSEHOLDER: 9_000_000}
    )
    assert (decision, outcome) == (Tier.PAYMENT_DEFERRAL, PASSED)
    assert not any("世帯主" in line for line in explanation)


def test_student_deferral_looks_at_the_applicant_only() -> None:
    kwargs: dict[str, Any] = {"first": M(2026, 4), "last": M(2027, 3), "applied_on": D("2026-04-10")}
    assert screen(ApplicationKind.STUDENT_DEFERRAL, {APPLICANT: 1_280_000, HOUSEHOLDER: 9_000_000}, **kwargs)[:2] == (
        Tier.STUDENT_DEFERRAL,
        PASSED,
    )
    assert screen(ApplicationKind.STUDENT_DEFERRAL, {APPLICANT: 1_280_001}, **kwargs)[:2] == (None, FAILED)


def test_an_unknown_income_before_any_tier_passes_leaves_the_screening_open() -> None:
    decision, outcome, explanation = screen(ApplicationKind.EXEMPTION, {APPLICANT: 0, SPOUSE: 0, HOUSEHOLDER: None})
    assert (decision, outcome) == (None, UNKNOWN)
    assert "所得不明のため審査未了 — 世帯主（1000003）" in explanation[0]


def test_a_requested_tier_is_screened_alone() -> None:
    decision, _, explanation = screen(
        ApplicationKind.EXEMPTION, {APPLICANT: 0, SPOUSE: 0, HOUSEHOLDER: 0}, requested=Tier.HALF
    )
    assert decision is Tier.HALF
    assert not any("全額免除" in line for line in explanation)


def test_the_household_is_taken_on_the_application_day_or_on_30_june_of_a_past_year() -> None:
    applied = D("2026-11-05")
    assert household_day(ApplicationKind.EXEMPTION, M(2026, 7), applied) == applied
    assert household_day(ApplicationKind.EXEMPTION, M(2025, 7), applied) == D("2026-06-30")
    assert household_day(ApplicationKind.STUDENT_DEFERRAL, M(2026, 4), applied) == applied
    assert household_day(ApplicationKind.STUDENT_DEFERRAL, M(2025, 4), applied) == D("2026-03-31")


# --- property: a stricter tier passed means every more lenient one passes -----------------------

LADDERS = [
    (Tier.FULL, Tier.THREE_QUARTERS),
    (Tier.THREE_QUARTERS, Tier.HALF),
    (Tier.HALF, Tier.QUARTER),
    (Tier.FULL, Tier.PAYMENT_DEFERRAL),
]

counts = st.integers(min_value=0, max_value=4)
amounts = st.integers(min_value=0, max_value=800_000)
figures_strategy = st.builds(
    IncomeFigures,
    income_year=st.just(0),
    total_income=st.integers(min_value=-500_000, max_value=6_000_000),
    net_loss=st.integers(min_value=0, max_value=300_000),
    general_dependants=counts,
    elderly_dependants=counts,
    specified_dependants=counts,
    young_dependants=counts,
    spouse_deduction=st.sampled_from(SpouseDeduction),
    disabled_dependants=counts,
    specially_disabled_dependants=counts,
    disability=st.sampled_from(Disability),
    widow=st.booleans(),
    single_parent=st.booleans(),
    working_student=st.booleans(),
    casualty_loss_deduction=amounts,
    medical_expense_deduction=amounts,
    social_insurance_deduction=amounts,
    small_business_mutual_aid_deduction=amounts,
    spouse_special_deduction=amounts,
)


@settings(max_examples=300, deadline=None)
@given(
    people=st.lists(st.one_of(st.none(), figures_strategy), min_size=3, max_size=3),
    month=st.builds(YearMonth, st.integers(min_value=2019, max_value=2027), st.integers(min_value=1, max_value=12)),
    before_deductions=st.booleans(),
)
def test_passing_a_stricter_tier_implies_passing_every_more_lenient_one(
    people: list[IncomeFigures | None], month: YearMonth, before_deductions: bool
) -> None:
    income_year = JULY_TO_JUNE.income_year_of(month)
    book = {
        atena: None if figures is None else replace(figures, income_year=income_year)
        for atena, figures in zip((APPLICANT, SPOUSE, HOUSEHOLDER), people, strict=True)
    }
    first, last = JULY_TO_JUNE.months_of(JULY_TO_JUNE.year_of(month))
    results = {}
    for kind in (ApplicationKind.EXEMPTION, ApplicationKind.PAYMENT_DEFERRAL):
        screening = screen_year(
            kind,
            APPLICANT,
            first,
            last,
            household=HOUSEHOLD,
            household_on=first.first_day,
            income_of=lambda atena, _year: book[atena],
            full_compares_before_deductions=before_deductions,
        )
        results.update({result.tier: result.outcome for result in screening.tiers})
    for stricter, lenient in LADDERS:
        if results[stricter] is PASSED:
            assert results[lenient] is PASSED, (stricter, lenient)


# --- spouse and householder from the resident record's 続柄 ----------------------------------------


@pytest.mark.parametrize(
    ("members", "stated", "expected"),
    [
        pytest.param(
            [("A", "世帯主"), ("S", "妻"), ("C", "子")], None, Household("A", "S"), id="applicant-is-householder"
        ),
        pytest.param([("H", "世帯主"), ("A", "夫（未届）")], None, Household("H", "H"), id="applicant-is-未届-spouse"),
        pytest.param([("H", "世帯主"), ("A", "子"), ("X", "子の妻")], None, Household("H", None), id="child"),
        pytest.param([("H", "世帯主"), ("A", "子")], "X", Household("H", "X"), id="form-states-the-spouse"),
        pytest.param([("A", "世帯主")], None, Household("A", None), id="living-alone"),
    ],
)
def test_spouse_and_householder_from_the_relationship(
    members: list[tuple[str, str]], stated: str | None, expected: Household
) -> None:
    head = next(atena for atena, rel in members if rel == "世帯主")
    found = household_of("A", [Member(atena, rel, head) for atena, rel in members], stated)
    assert found == expected
