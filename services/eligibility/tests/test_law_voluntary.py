"""任意加入被保険者 (国民年金法附則5条): who may join, from when, and when it ends."""

from __future__ import annotations

from datetime import date

import pytest
from eligibility.domain import (
    Acquisition,
    AcquisitionReason,
    DesignatedActivity,
    InsuredCategory,
    Loss,
    LossReason,
    OtherCategoryStatus,
    PersonSituation,
    VoluntaryBasis,
    exemptions_apply_to,
    may_join_voluntarily,
    voluntary_acquisition,
    voluntary_basis,
    voluntary_loss_on_becoming_kosei_insured,
    voluntary_loss_on_death,
    voluntary_loss_on_leaving_japan,
    voluntary_loss_on_reaching_65,
    voluntary_loss_on_reaching_480_months,
    voluntary_loss_on_withdrawal,
)

D = date.fromisoformat
VB = VoluntaryBasis


def person(
    birth: str,
    *,
    in_japan: bool = True,
    other_category: OtherCategoryStatus = OtherCategoryStatus.NONE,
    can_receive_kosei_old_age_benefit: bool = False,
    residence_status: str | None = None,
    designated_activity: DesignatedActivity | None = None,
) -> PersonSituation:
    return PersonSituation(
        birth=D(birth),
        has_address_in_japan=in_japan,
        other_category=other_category,
        can_receive_kosei_old_age_benefit=can_receive_kosei_old_age_benefit,
        residence_status=residence_status,
        designated_activity=designated_activity,
    )


@pytest.mark.parametrize(
    ("situation", "on", "japanese", "basis"),
    [
        pytest.param(person("1963-05-10"), "2025-06-01", True, VB.DOMESTIC_60_TO_64, id="resident-aged-62"),
        pytest.param(
            person("1966-04-02"), "2026-04-01", False, VB.DOMESTIC_60_TO_64, id="on-60歳到達日-any-nationality"
        ),
        pytest.param(person("1966-04-02"), "2026-03-31", True, None, id="day-before-60-is-compulsory-第1号"),
        pytest.param(person("1961-04-02"), "2026-03-31", True, VB.DOMESTIC_60_TO_64, id="day-before-65歳到達日"),
        pytest.param(person("1961-04-02"), "2026-04-01", True, None, id="on-65歳到達日-too-old"),
        pytest.param(
            person("1975-05-10", can_receive_kosei_old_age_benefit=True),
            "2025-06-01",
            True,
            VB.DOMESTIC_WITH_OLD_AGE_BENEFIT,
            id="resident-aged-50-with-厚年老齢給付等",
        ),
        pytest.param(person("1975-05-10"), "2025-06-01", True, None, id="resident-aged-50-is-compulsory"),
        pytest.param(person("1995-05-10", in_japan=False), "2025-06-01", True, VB.JAPANESE_ABROAD, id="abroad-30"),
        pytest.param(person("1961-04-02", in_japan=False), "2026-03-31", True, VB.JAPANESE_ABROAD, id="abroad-64"),
        pytest.param(person("1961-04-02", in_japan=False), "2026-04-01", True, None, id="abroad-on-65歳到達日"),
        pytest.param(person("1995-05-10", in_japan=False), "2025-06-01", False, None, id="abroad-foreign-national"),
        pytest.param(person("2006-04-02", in_japan=False), "2026-03-31", True, None, id="abroad-aged-19"),
        pytest.param(person("2006-04-02", in_japan=False), "2026-04-01", True, VB.JAPANESE_ABROAD, id="abroad-on-20"),
        pytest.param(
            person("1963-05-10", other_category=OtherCategoryStatus.CATEGORY_2), "2025-06-01", True, None, id="第2号"
        ),
        pytest.param(
            person("1963-05-10", other_category=OtherCategoryStatus.CATEGORY_3), "2025-06-01", True, None, id="第3号"
        ),
        pytest.param(
            person("1963-05-10", other_category=OtherCategoryStatus.UNKNOWN),
            "2025-06-01",
            True,
            VB.DOMESTIC_60_TO_64,
            id="unknown-2-3-status-may-apply",
        ),
        pytest.param(
            person("1963-05-10", residence_status="特定活動", designated_activity=DesignatedActivity.LONG_STAY_TOURISM),
            "2021-04-01",
            False,
            None,
            id="観光・保養-excluded-from-2021-04",
        ),
        pytest.param(
            person("1960-05-10", residence_status="特定活動", designated_activity=DesignatedActivity.LONG_STAY_TOURISM),
            "2021-03-31",
            False,
            VB.DOMESTIC_60_TO_64,
            id="観光・保養-not-yet-excluded-in-March-2021",
        ),
    ],
)
def test_who_may_join_voluntarily(situation: PersonSituation, on: str, japanese: bool, basis: VB | None) -> None:
    assert voluntary_basis(situation, D(on), is_japanese_national=japanese) is basis


def test_every_basis_names_its_item_of_附則5条() -> None:
    assert [b.label_ja.endswith(f"（附則5条1項{item}号）") for b, item in zip(VoluntaryBasis, "123", strict=True)] == [
        True,
        True,
        True,
    ]
    assert [b.lives_in_japan for b in VoluntaryBasis] == [True, True, False]


@pytest.mark.parametrize(
    ("months_counted", "may_join"),
    [pytest.param(479, True, id="479-months"), pytest.param(480, False, id="480-months-already")],
)
def test_no_one_joins_who_already_has_480_months(months_counted: int, may_join: bool) -> None:
    assert (
        may_join_voluntarily(
            person("1963-05-10"), D("2025-06-01"), is_japanese_national=True, months_counted=months_counted
        )
        is may_join
    )


def test_voluntary_insurance_starts_on_the_day_of_the_申出() -> None:
    assert voluntary_acquisition(
        person("1963-05-10"), D("2025-06-30"), is_japanese_national=True, months_counted=300
    ) == Acquisition(InsuredCategory.VOLUNTARY, D("2025-06-30"), AcquisitionReason.VOLUNTARY_APPLICATION)


def test_no_voluntary_insurance_for_one_who_may_not_join() -> None:
    assert (
        voluntary_acquisition(person("1975-05-10"), D("2025-06-30"), is_japanese_national=True, months_counted=300)
        is None
    )


@pytest.mark.parametrize(
    ("loss", "expected"),
    [
        pytest.param(
            voluntary_loss_on_death(D("2025-03-31")), Loss(D("2025-04-01"), LossReason.DEATH), id="death-day-after"
        ),
        pytest.param(
            voluntary_loss_on_leaving_japan(D("2025-06-30")),
            Loss(D("2025-07-01"), LossReason.MOVED_ABROAD),
            id="leaving-Japan-day-after",
        ),
        pytest.param(
            voluntary_loss_on_reaching_65(D("1961-04-02")),
            Loss(D("2026-04-01"), LossReason.REACHED_65),
            id="65歳到達日-itself",
        ),
        pytest.param(
            voluntary_loss_on_reaching_65(D("1961-04-01")),
            Loss(D("2026-03-31"), LossReason.REACHED_65),
            id="born-1-April-65歳到達日-31-March",
        ),
        pytest.param(
            voluntary_loss_on_reaching_65(D("1960-02-29")),
            Loss(D("2025-02-28"), LossReason.REACHED_65),
            id="born-29-February-65歳到達日-28-February",
        ),
        pytest.param(
            voluntary_loss_on_reaching_480_months(D("2025-05-15")),
            Loss(D("2025-05-15"), LossReason.REACHED_480_MONTHS),
            id="480-months-that-day",
        ),
        pytest.param(
            voluntary_loss_on_becoming_kosei_insured(D("2025-05-01")),
            Loss(D("2025-05-01"), LossReason.BECAME_CATEGORY_2),
            id="厚年-insured-that-day",
        ),
        pytest.param(
            voluntary_loss_on_withdrawal(D("2025-05-20")),
            Loss(D("2025-05-20"), LossReason.WITHDREW),
            id="withdrawal-accepted-that-day",
        ),
    ],
)
def test_when_voluntary_insurance_ends(loss: Loss, expected: Loss) -> None:
    assert loss == expected


@pytest.mark.parametrize(
    ("category", "applies"),
    [
        pytest.param(InsuredCategory.CATEGORY_1, True, id="第1号"),
        pytest.param(InsuredCategory.VOLUNTARY, False, id="任意加入-no-exemptions"),
        pytest.param(InsuredCategory.CATEGORY_2, False, id="第2号"),
        pytest.param(InsuredCategory.CATEGORY_3, False, id="第3号"),
    ],
)
def test_exemptions_are_for_category_1_only(category: InsuredCategory, applies: bool) -> None:
    assert exemptions_apply_to(category) is applies
