"""Checks of an application before screening, 法定免除 (89条), 産前産後免除 (88条の2) and premiums (87条, 90条の2)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from eligibility.domain import (
    AcquisitionReason,
    InsuredCategory,
    LossReason,
    PremiumStatus,
    QualificationHistory,
    QualificationPeriod,
    YearMonth,
)
from eligibility.exemptions import (
    Application,
    ApplicationKind,
    ApplicationRefusal,
    NotInForceYet,
    StatutoryReason,
    Tier,
    monthly_premium,
    pre_postnatal_months,
    premium_owed,
    status_in_month,
    statutory_exemption_months,
    validate,
)
from eligibility.exemptions.notifications import ExemptionPeriod, Notification, NotificationKind, on_notification

D = date.fromisoformat
M = YearMonth
R = ApplicationRefusal
BIRTH = D("1990-05-20")
INSURED = QualificationHistory(
    (QualificationPeriod(InsuredCategory.CATEGORY_1, D("2010-05-19"), AcquisitionReason.REACHED_20),)
)


def refusals(
    first: YearMonth,
    last: YearMonth,
    *,
    kind: ApplicationKind = ApplicationKind.EXEMPTION,
    applied_on: date = date(2026, 11, 5),
    birth: date = BIRTH,
    history: QualificationHistory = INSURED,
    **fields: object,
) -> list[ApplicationRefusal]:
    application = Application(kind, "1000001", applied_on, first, last, **fields)  # type: ignore[arg-type]
    return [refusal.reason for refusal in validate(application, birth, history)]


@pytest.mark.parametrize(
    ("first", "last", "kind", "expected"),
    [
        pytest.param(M(2026, 7), M(2027, 6), ApplicationKind.EXEMPTION, [], id="the-current-year"),
        pytest.param(M(2024, 10), M(2025, 6), ApplicationKind.EXEMPTION, [], id="2-years-1-month-back"),
        pytest.param(
            M(2024, 9), M(2025, 6), ApplicationKind.EXEMPTION, [R.BEYOND_RETROACTIVE_LIMIT], id="one-month-further"
        ),
        pytest.param(M(2026, 5), M(2026, 8), ApplicationKind.EXEMPTION, [R.PERIOD_SPANS_YEARS], id="July-June-year"),
        pytest.param(
            M(2026, 3),
            M(2026, 4),
            ApplicationKind.STUDENT_DEFERRAL,
            [R.PERIOD_SPANS_YEARS, R.NO_SCHOOL],
            id="学特-April-March-year-and-no-school",
        ),
        pytest.param(M(2027, 7), M(2027, 8), ApplicationKind.EXEMPTION, [R.FUTURE_YEAR], id="next-year-not-open"),
        pytest.param(M(2026, 8), M(2026, 7), ApplicationKind.EXEMPTION, [R.PERIOD_REVERSED], id="reversed"),
    ],
)
def test_the_period_an_application_may_cover(
    first: YearMonth, last: YearMonth, kind: ApplicationKind, expected: list[ApplicationRefusal]
) -> None:
    assert refusals(first, last, kind=kind) == expected


def test_student_deferral_with_a_school_is_accepted() -> None:
    assert refusals(M(2026, 4), M(2027, 3), kind=ApplicationKind.STUDENT_DEFERRAL, school="さいたま大学") == []


def test_a_requested_tier_belongs_to_the_exemption_only() -> None:
    assert refusals(M(2026, 7), M(2026, 8), requested_tier=Tier.HALF) == []
    assert refusals(M(2026, 7), M(2026, 8), kind=ApplicationKind.PAYMENT_DEFERRAL, requested_tier=Tier.HALF) == [
        R.TIER_NOT_OF_KIND
    ]


@pytest.mark.parametrize(
    ("birth", "last", "refused"),
    [
        # born 1977-01-15 → reaches 50 on 2027-01-14 → 猶予 up to 2026-12
        pytest.param("1977-01-15", M(2026, 12), False, id="the-month-before-reaching-50"),
        pytest.param("1977-01-15", M(2027, 1), True, id="the-month-of-reaching-50"),
        # born 1976-08-01 → reaches 50 on 2026-07-31 → 猶予 up to 2026-06
        pytest.param("1976-08-01", M(2026, 7), True, id="born-on-the-1st-reaches-50-in-the-month-before"),
    ],
)
def test_deferral_is_for_months_before_the_month_of_reaching_50(birth: str, last: YearMonth, refused: bool) -> None:
    got = refusals(M(2026, 7), last, kind=ApplicationKind.PAYMENT_DEFERRAL, birth=D(birth))
    assert got == ([R.OVER_AGE_LIMIT] if refused else [])


def test_only_category_1_months_and_never_voluntary_ones() -> None:
    voluntary = QualificationHistory(
        (QualificationPeriod(InsuredCategory.VOLUNTARY, D("2026-01-10"), AcquisitionReason.VOLUNTARY_APPLICATION),)
    )
    assert refusals(M(2026, 7), M(2026, 9), history=voluntary) == [R.VOLUNTARY_INSURED]
    left = QualificationHistory(
        (
            QualificationPeriod(
                InsuredCategory.CATEGORY_1,
                D("2010-05-19"),
                AcquisitionReason.REACHED_20,
                D("2026-09-01"),
                LossReason.BECAME_CATEGORY_2,
            ),
        )
    )
    assert refusals(M(2026, 7), M(2026, 8), history=left) == []
    assert refusals(M(2026, 7), M(2026, 9), history=left) == [R.NOT_CATEGORY_1]
    assert refusals(M(2026, 7), M(2026, 9), history=QualificationHistory(())) == [R.NOT_CATEGORY_1]


def test_a_refusal_names_its_rule_and_says_why() -> None:
    application = Application(ApplicationKind.EXEMPTION, "1000001", D("2026-11-05"), M(2024, 9), M(2025, 6))
    (refusal,) = validate(application, BIRTH, INSURED)
    assert "102条4項" in refusal.rule
    assert refusal.message == "2024-10より前の月は申請できません（申請月の2年1か月前まで）"


# --- 法定免除 and 産前産後免除 -----------------------------------------------------------------------


def test_statutory_exemption_runs_from_the_month_before_to_the_month_it_ceases() -> None:
    months = statutory_exemption_months(D("2026-05-20"), D("2027-01-10"))
    assert (months.first, months.last) == (M(2026, 4), M(2027, 1))
    assert statutory_exemption_months(D("2026-01-01")).first == M(2025, 12)
    assert statutory_exemption_months(D("2026-01-01")).last is None


@pytest.mark.parametrize(
    ("expected_on", "multiple", "first", "last"),
    [
        pytest.param("2026-08-10", False, M(2026, 7), M(2026, 10), id="single-4-months"),
        pytest.param("2026-08-10", True, M(2026, 5), M(2026, 10), id="multiple-6-months"),
        pytest.param("2024-02-29", False, M(2024, 1), M(2024, 4), id="leap-day-birth"),
        pytest.param("2024-02-29", True, M(2023, 11), M(2024, 4), id="leap-day-multiple-across-the-year"),
        pytest.param("2026-01-15", True, M(2025, 10), M(2026, 3), id="january-birth-multiple"),
        pytest.param("2019-02-10", False, M(2019, 4), M(2019, 4), id="cut-at-2019-04"),
    ],
)
def test_pre_and_postnatal_months(expected_on: str, multiple: bool, first: YearMonth, last: YearMonth) -> None:
    months = pre_postnatal_months(D(expected_on), multiple=multiple)
    assert (months.first, months.last) == (first, last)


def test_pre_and_postnatal_exemption_did_not_exist_before_2019_04() -> None:
    with pytest.raises(NotInForceYet):
        pre_postnatal_months(D("2018-12-01"), multiple=False)


def test_pre_and_postnatal_exemption_takes_priority() -> None:
    S = PremiumStatus
    assert status_in_month({S.FULL_EXEMPTION, S.PRE_POSTNATAL_EXEMPTION}) is S.PRE_POSTNATAL_EXEMPTION
    assert status_in_month({S.STATUTORY_EXEMPTION, S.PRE_POSTNATAL_EXEMPTION}) is S.PRE_POSTNATAL_EXEMPTION
    assert status_in_month({S.HALF_EXEMPTION, S.STATUTORY_EXEMPTION}) is S.STATUTORY_EXEMPTION
    assert status_in_month({S.HALF_EXEMPTION, S.PAYING}) is S.HALF_EXEMPTION
    assert status_in_month(()) is S.PAYING
    with pytest.raises(ValueError, match="two applied-for"):
        status_in_month({S.HALF_EXEMPTION, S.QUARTER_EXEMPTION})


# --- premiums --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("month", "status", "owed"),
    [
        pytest.param(M(2026, 3), PremiumStatus.PAYING, 17_510, id="FY2025-March"),
        pytest.param(M(2025, 4), PremiumStatus.PAYING, 17_510, id="FY2025-April"),
        pytest.param(M(2026, 4), PremiumStatus.PAYING, 17_920, id="FY2026-April"),
        # 17,510 × 1/4 = 4,377.5 → 4,380; × 1/2 = 8,755 → 8,760; × 3/4 = 13,132.5 → 13,130
        pytest.param(M(2025, 7), PremiumStatus.THREE_QUARTER_EXEMPTION, 4_380, id="FY2025-4分の3免除"),
        pytest.param(M(2025, 7), PremiumStatus.HALF_EXEMPTION, 8_760, id="FY2025-半額免除"),
        pytest.param(M(2025, 7), PremiumStatus.QUARTER_EXEMPTION, 13_130, id="FY2025-4分の1免除"),
        pytest.param(M(2026, 7), PremiumStatus.THREE_QUARTER_EXEMPTION, 4_480, id="FY2026-4分の3免除"),
        pytest.param(M(2026, 7), PremiumStatus.HALF_EXEMPTION, 8_960, id="FY2026-半額免除"),
        pytest.param(M(2026, 7), PremiumStatus.QUARTER_EXEMPTION, 13_440, id="FY2026-4分の1免除"),
        pytest.param(M(2026, 7), PremiumStatus.FULL_EXEMPTION, 0, id="全額免除"),
        pytest.param(M(2026, 7), PremiumStatus.PRE_POSTNATAL_EXEMPTION, 0, id="産前産後"),
        # 16,410 (FY2019) × 3/4 = 12,307.5 → 12,310 (7.5 yen is 5 or more: up)
        pytest.param(M(2019, 4), PremiumStatus.QUARTER_EXEMPTION, 12_310, id="FY2019-4分の1免除"),
    ],
)
def test_premium_owed_per_month_and_tier(month: YearMonth, status: PremiumStatus, owed: int) -> None:
    assert premium_owed(month, status) == owed


def test_the_monthly_premium_is_the_fiscal_years() -> None:
    assert monthly_premium(M(2027, 3)) == 17_920


# --- 届出 of 法定免除 and 産前産後免除 ---------------------------------------------------------------


def notify(kind: NotificationKind, open_statutory: ExemptionPeriod | None = None, **fields: Any) -> Any:
    return on_notification(
        Notification(kind, fields.pop("received_on", D("2026-11-05")), **fields), INSURED, open_statutory
    )


def test_a_statutory_exemption_is_recorded_from_the_month_before_and_ended_by_its_own_notice() -> None:
    period = notify(
        NotificationKind.STATUTORY_EXEMPTION,
        statutory_reason=StatutoryReason.LIVELIHOOD_ASSISTANCE,
        reason_arose_on=D("2026-10-15"),
    )
    assert isinstance(period, ExemptionPeriod)
    assert (period.status, period.months.first, period.months.last) == (
        PremiumStatus.STATUTORY_EXEMPTION,
        M(2026, 9),
        None,
    )
    again = notify(
        NotificationKind.STATUTORY_EXEMPTION,
        period,
        statutory_reason=StatutoryReason.DISABILITY_PENSION,
        reason_arose_on=D("2026-11-01"),
    )
    assert again.reason is R.ALREADY_STATUTORY
    ended = notify(NotificationKind.STATUTORY_EXEMPTION_ENDED, period, reason_ceased_on=D("2027-03-10"))
    assert (ended.months.first, ended.months.last) == (M(2026, 9), M(2027, 3))
    assert notify(NotificationKind.STATUTORY_EXEMPTION_ENDED, reason_ceased_on=D("2027-03-10")).reason is (
        R.NO_STATUTORY_EXEMPTION
    )


def test_a_pre_and_postnatal_notice_covers_the_window_and_not_before_six_months_ahead() -> None:
    period = notify(NotificationKind.PRE_POSTNATAL_EXEMPTION, expected_birth_on=D("2027-03-20"), multiple_birth=True)
    assert (period.status, period.months.first, period.months.last) == (
        PremiumStatus.PRE_POSTNATAL_EXEMPTION,
        M(2026, 12),
        M(2027, 5),
    )
    early = notify(NotificationKind.PRE_POSTNATAL_EXEMPTION, expected_birth_on=D("2027-05-06"))
    assert early.reason is R.TOO_EARLY  # 2026-11-05 is before 2026-11-06, six months ahead
    assert isinstance(
        notify(NotificationKind.PRE_POSTNATAL_EXEMPTION, expected_birth_on=D("2027-05-05")), ExemptionPeriod
    )


def test_notices_are_for_category_1_months_only() -> None:
    refused = on_notification(
        Notification(NotificationKind.PRE_POSTNATAL_EXEMPTION, D("2026-11-05"), expected_birth_on=D("2027-01-10")),
        QualificationHistory(()),
        None,
    )
    assert refused.reason is R.NOT_CATEGORY_1
