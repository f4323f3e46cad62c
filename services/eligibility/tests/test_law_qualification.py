"""第1号被保険者 (国民年金法7条1項1号), its acquisition (8条) and loss (9条), and the 2020 exclusions."""

from __future__ import annotations

from datetime import date

import pytest
from eligibility.domain import (
    Acquisition,
    AcquisitionReason,
    Category1Obstacle,
    DesignatedActivity,
    ExclusionCause,
    InsuredCategory,
    Loss,
    LossReason,
    LossTiming,
    NotInForceError,
    OtherCategoryStatus,
    PersonSituation,
    acquisition_on_ceasing_exclusion,
    acquisition_on_moving_in,
    acquisition_on_reaching_20,
    category1_obstacles,
    category_change_to_category_1,
    exclusion_cause,
    is_category1_candidate,
    is_excluded_by_residence_status,
    loss_on_becoming_category_2_or_3,
    loss_on_becoming_excluded,
    loss_on_death,
    loss_on_moving_abroad,
    loss_on_reaching_60,
)

D = date.fromisoformat
MEDICAL_STAY = DesignatedActivity.MEDICAL_STAY
TOURISM = DesignatedActivity.LONG_STAY_TOURISM


def resident(
    birth: str,
    *,
    has_address_in_japan: bool = True,
    other_category: OtherCategoryStatus = OtherCategoryStatus.UNKNOWN,
    can_receive_kosei_old_age_benefit: bool = False,
    residence_status: str | None = None,
    designated_activity: DesignatedActivity | None = None,
) -> PersonSituation:
    """A resident of the city; by default one whose 第2号/第3号 status is not known (the usual case)."""
    return PersonSituation(
        birth=D(birth),
        has_address_in_japan=has_address_in_japan,
        other_category=other_category,
        can_receive_kosei_old_age_benefit=can_receive_kosei_old_age_benefit,
        residence_status=residence_status,
        designated_activity=designated_activity,
    )


# --- who is 第1号 on a day (7条1項1号) ----------------------------------------------------------------------------

OB = Category1Obstacle


@pytest.mark.parametrize(
    ("situation", "on", "obstacles"),
    [
        pytest.param(resident("1990-05-10"), "2025-06-01", set(), id="resident-aged-35-is-第1号"),
        pytest.param(
            resident("1990-05-10", has_address_in_japan=False), "2025-06-01", {OB.NO_ADDRESS_IN_JAPAN}, id="abroad"
        ),
        pytest.param(resident("2006-04-01"), "2026-03-30", {OB.UNDER_20}, id="day-before-20歳到達日-is-under-20"),
        pytest.param(resident("2006-04-01"), "2026-03-31", set(), id="on-20歳到達日-born-1-April"),
        pytest.param(resident("2004-02-29"), "2024-02-28", set(), id="on-20歳到達日-born-29-February"),
        pytest.param(resident("1966-04-02"), "2026-03-31", set(), id="day-before-60歳到達日-still-第1号"),
        pytest.param(resident("1966-04-02"), "2026-04-01", {OB.AGED_60_OR_OVER}, id="on-60歳到達日-no-longer"),
        pytest.param(
            resident("1990-05-10", other_category=OtherCategoryStatus.CATEGORY_2),
            "2025-06-01",
            {OB.IS_CATEGORY_2},
            id="第2号",
        ),
        pytest.param(
            resident("1990-05-10", other_category=OtherCategoryStatus.CATEGORY_3),
            "2025-06-01",
            {OB.IS_CATEGORY_3},
            id="第3号",
        ),
        pytest.param(
            resident("1990-05-10", other_category=OtherCategoryStatus.NONE), "2025-06-01", set(), id="known-neither"
        ),
        pytest.param(
            resident("1970-05-10", can_receive_kosei_old_age_benefit=True),
            "2025-06-01",
            {OB.EXCLUDED},
            id="厚年老齢給付等を受けられる-excluded",
        ),
        pytest.param(
            resident("1990-05-10", residence_status="特定活動", designated_activity=MEDICAL_STAY),
            "2020-04-01",
            {OB.EXCLUDED},
            id="特定活動-医療滞在-excluded-from-2020-04-01",
        ),
        pytest.param(
            resident("1990-05-10", residence_status="特定活動", designated_activity=MEDICAL_STAY),
            "2020-03-31",
            set(),
            id="特定活動-医療滞在-not-excluded-before-2020-04",
        ),
        pytest.param(
            resident("1990-05-10", residence_status="特定活動", designated_activity=DesignatedActivity.OTHER),
            "2025-06-01",
            set(),
            id="other-特定活動-is-第1号",
        ),
        pytest.param(
            resident("2010-05-10", has_address_in_japan=False, other_category=OtherCategoryStatus.CATEGORY_2),
            "2025-06-01",
            {OB.NO_ADDRESS_IN_JAPAN, OB.UNDER_20, OB.IS_CATEGORY_2},
            id="every-failed-requirement-is-named",
        ),
    ],
)
def test_who_is_a_category_1_insured_on_a_day(situation: PersonSituation, on: str, obstacles: set[OB]) -> None:
    assert category1_obstacles(situation, D(on)) == obstacles
    assert is_category1_candidate(situation, D(on)) is (not obstacles)


def test_unknown_category_2_or_3_status_is_treated_as_a_candidate() -> None:
    """第2号/第3号 is not in the resident record: the city enrols and JPS data turns it into a 種別変更."""
    assert is_category1_candidate(resident("1990-05-10", other_category=OtherCategoryStatus.UNKNOWN), D("2025-06-01"))


def test_the_law_is_not_judged_before_the_1986_scheme() -> None:
    with pytest.raises(NotInForceError):
        is_category1_candidate(resident("1960-05-10"), D("1985-06-01"))


# --- exclusions of 施行規則1条の2 (since 2020-04) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "activity", "on", "excluded"),
    [
        pytest.param("特定活動", MEDICAL_STAY, "2020-04-01", True, id="医療滞在-on-the-first-day"),
        pytest.param("特定活動", TOURISM, "2024-10-01", True, id="観光・保養"),
        pytest.param("特定活動", MEDICAL_STAY, "2020-03-31", False, id="医療滞在-the-day-before-the-rule"),
        pytest.param("特定活動", TOURISM, "2019-12-01", False, id="観光・保養-before-the-rule"),
        pytest.param("特定活動", DesignatedActivity.MEDICAL_STAY_ATTENDANT, "2024-10-01", True, id="付添人"),
        pytest.param("特定活動", DesignatedActivity.LONG_STAY_TOURISM_SPOUSE, "2024-10-01", True, id="同行配偶者"),
        pytest.param("特定活動", DesignatedActivity.OTHER, "2024-10-01", False, id="other-designated-activity"),
        pytest.param("特定活動", None, "2024-10-01", False, id="activity-unknown"),
        pytest.param("永住者", MEDICAL_STAY, "2024-10-01", False, id="only-特定活動-counts"),
        pytest.param(None, None, "2024-10-01", False, id="Japanese-national"),
    ],
)
def test_residence_status_exclusion(
    status: str | None, activity: DesignatedActivity | None, on: str, excluded: bool
) -> None:
    assert is_excluded_by_residence_status(status, activity, D(on)) is excluded


@pytest.mark.parametrize(
    ("situation", "cause"),
    [
        pytest.param(
            resident("1970-01-01", can_receive_kosei_old_age_benefit=True),
            ExclusionCause.CAN_RECEIVE_KOSEI_OLD_AGE_BENEFIT,
            id="厚年老齢給付等",
        ),
        pytest.param(
            resident("1990-01-01", residence_status="特定活動", designated_activity=TOURISM),
            ExclusionCause.DESIGNATED_ACTIVITY_STAY,
            id="特定活動",
        ),
        pytest.param(resident("1990-01-01"), None, id="not-excluded"),
    ],
)
def test_the_cause_of_an_exclusion_is_named(situation: PersonSituation, cause: ExclusionCause | None) -> None:
    assert exclusion_cause(situation, D("2025-01-01")) is cause


# --- acquisition (8条) --------------------------------------------------------------------------------------------

CAT1 = InsuredCategory.CATEGORY_1


@pytest.mark.parametrize(
    ("situation", "acquired_on"),
    [
        pytest.param(resident("2006-04-01"), "2026-03-31", id="born-1-April-acquires-on-31-March"),
        pytest.param(resident("2006-04-02"), "2026-04-01", id="born-2-April-acquires-on-1-April"),
        pytest.param(resident("2006-03-01"), "2026-02-28", id="born-1-March-acquires-on-the-last-day-of-February"),
        pytest.param(resident("2004-02-29"), "2024-02-28", id="born-29-February-leap-year"),
        pytest.param(resident("2005-02-28"), "2025-02-27", id="born-28-February"),
        pytest.param(resident("2006-01-01"), "2025-12-31", id="born-1-January-acquires-in-the-previous-year"),
    ],
)
def test_acquisition_on_reaching_20_is_the_20歳到達日(situation: PersonSituation, acquired_on: str) -> None:
    assert acquisition_on_reaching_20(situation) == Acquisition(CAT1, D(acquired_on), AcquisitionReason.REACHED_20)


@pytest.mark.parametrize(
    "situation",
    [
        pytest.param(resident("2006-04-01", has_address_in_japan=False), id="living-abroad-at-20"),
        pytest.param(resident("2006-04-01", other_category=OtherCategoryStatus.CATEGORY_2), id="already-第2号-at-20"),
        pytest.param(resident("2006-04-01", other_category=OtherCategoryStatus.CATEGORY_3), id="already-第3号-at-20"),
    ],
)
def test_no_acquisition_on_reaching_20_for_one_who_is_not_category_1(situation: PersonSituation) -> None:
    assert acquisition_on_reaching_20(situation) is None


@pytest.mark.parametrize(
    ("situation", "moved_in_on", "expected"),
    [
        pytest.param(resident("1990-05-10"), "2025-03-31", "2025-03-31", id="aged-34-acquires-on-the-転入日"),
        pytest.param(resident("2006-04-02"), "2026-04-01", "2026-04-01", id="moves-in-on-the-20歳到達日"),
        pytest.param(resident("1966-04-02"), "2026-03-31", "2026-03-31", id="moves-in-the-day-before-60歳到達日"),
        pytest.param(resident("1966-04-02"), "2026-04-01", None, id="moves-in-on-the-60歳到達日-too-old"),
        pytest.param(resident("2007-04-02"), "2026-04-01", None, id="aged-18-not-yet"),
        pytest.param(
            resident("1990-05-10", other_category=OtherCategoryStatus.CATEGORY_2), "2025-03-31", None, id="第2号"
        ),
        pytest.param(
            resident("1990-05-10", residence_status="特定活動", designated_activity=MEDICAL_STAY),
            "2025-03-31",
            None,
            id="特定活動-医療滞在",
        ),
    ],
)
def test_acquisition_on_coming_to_live_in_japan_is_that_day(
    situation: PersonSituation, moved_in_on: str, expected: str | None
) -> None:
    acquisition = acquisition_on_moving_in(situation, D(moved_in_on))
    if expected is None:
        assert acquisition is None
    else:
        assert acquisition == Acquisition(CAT1, D(expected), AcquisitionReason.MOVED_IN_FROM_ABROAD)


def test_acquisition_on_ceasing_to_be_excluded_is_that_day() -> None:
    """8条3号: the 在留資格 changes from 特定活動(医療滞在) to 定住者 on 2025-07-15."""
    after = resident("1990-05-10", residence_status="定住者")
    assert acquisition_on_ceasing_exclusion(after, D("2025-07-15")) == Acquisition(
        CAT1, D("2025-07-15"), AcquisitionReason.CEASED_EXCLUSION
    )


def test_no_acquisition_while_still_excluded() -> None:
    still = resident("1990-05-10", residence_status="特定活動", designated_activity=TOURISM)
    assert acquisition_on_ceasing_exclusion(still, D("2025-07-15")) is None


@pytest.mark.parametrize(
    ("previous", "reason"),
    [
        pytest.param(InsuredCategory.CATEGORY_2, AcquisitionReason.LEFT_CATEGORY_2, id="第2号→第1号"),
        pytest.param(InsuredCategory.CATEGORY_3, AcquisitionReason.LEFT_CATEGORY_3, id="第3号→第1号"),
    ],
)
def test_a_category_change_to_category_1_takes_effect_the_day_the_old_category_ends(
    previous: InsuredCategory, reason: AcquisitionReason
) -> None:
    """Last working day 2025-03-31 → 厚生年金 lost 2025-04-01 → 第1号 from 2025-04-01 (種別変更, 11条の2)."""
    record_still_says = resident("1990-05-10", other_category=OtherCategoryStatus(previous.value))
    assert category_change_to_category_1(record_still_says, previous, D("2025-04-01")) == Acquisition(
        CAT1, D("2025-04-01"), reason
    )


def test_leaving_category_2_at_60_or_over_makes_no_category_1() -> None:
    assert category_change_to_category_1(resident("1960-01-01"), InsuredCategory.CATEGORY_2, D("2025-04-01")) is None


def test_a_category_change_to_category_1_comes_from_category_2_or_3() -> None:
    with pytest.raises(ValueError, match="第2号 or 第3号"):
        category_change_to_category_1(resident("1990-05-10"), InsuredCategory.VOLUNTARY, D("2025-04-01"))


def test_an_acquisition_reason_must_fit_the_category() -> None:
    with pytest.raises(ValueError, match="does not start"):
        Acquisition(InsuredCategory.VOLUNTARY, D("2025-04-01"), AcquisitionReason.REACHED_20)


# --- loss (9条) ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("loss", "expected"),
    [
        pytest.param(loss_on_death(D("2024-01-31")), Loss(D("2024-02-01"), LossReason.DEATH), id="death-on-31-Jan"),
        pytest.param(
            loss_on_death(D("2024-02-29")), Loss(D("2024-03-01"), LossReason.DEATH), id="death-on-29-Feb-leap"
        ),
        pytest.param(
            loss_on_death(D("2023-02-28")), Loss(D("2023-03-01"), LossReason.DEATH), id="death-on-28-Feb-non-leap"
        ),
        pytest.param(
            loss_on_death(D("2023-12-31")), Loss(D("2024-01-01"), LossReason.DEATH), id="death-on-31-Dec-next-year"
        ),
        pytest.param(
            loss_on_moving_abroad(D("2025-03-31")),
            Loss(D("2025-04-01"), LossReason.MOVED_ABROAD),
            id="国外転出-day-after",
        ),
        pytest.param(
            loss_on_moving_abroad(D("2025-03-31"), became_on_same_day=InsuredCategory.CATEGORY_2),
            Loss(D("2025-03-31"), LossReason.BECAME_CATEGORY_2),
            id="国外転出-and-第2号-the-same-day-ends-that-day",
        ),
        pytest.param(
            loss_on_moving_abroad(D("2025-03-31"), became_on_same_day=InsuredCategory.CATEGORY_3),
            Loss(D("2025-03-31"), LossReason.BECAME_CATEGORY_3),
            id="国外転出-and-第3号-the-same-day-ends-that-day",
        ),
        pytest.param(
            loss_on_reaching_60(D("1966-04-02")),
            Loss(D("2026-04-01"), LossReason.REACHED_60),
            id="60歳到達日-itself-worked-example",
        ),
        pytest.param(
            loss_on_reaching_60(D("1966-04-01")),
            Loss(D("2026-03-31"), LossReason.REACHED_60),
            id="born-1-April-loses-on-31-March",
        ),
        pytest.param(
            loss_on_reaching_60(D("1964-02-29")),
            Loss(D("2024-02-28"), LossReason.REACHED_60),
            id="born-29-February-loses-on-28-February-of-a-leap-year",
        ),
        pytest.param(
            loss_on_reaching_60(D("1965-03-01")),
            Loss(D("2025-02-28"), LossReason.REACHED_60),
            id="born-1-March-loses-on-the-last-day-of-February",
        ),
        pytest.param(
            loss_on_becoming_excluded(D("2025-06-15"), ExclusionCause.CAN_RECEIVE_KOSEI_OLD_AGE_BENEFIT),
            Loss(D("2025-06-15"), LossReason.BECAME_EXCLUDED),
            id="厚年老齢給付等-that-day",
        ),
        pytest.param(
            loss_on_becoming_excluded(D("2025-06-15"), ExclusionCause.DESIGNATED_ACTIVITY_STAY),
            Loss(D("2025-06-15"), LossReason.BECAME_EXCLUDED),
            id="特定活動-that-day-by-default",
        ),
        pytest.param(
            loss_on_becoming_category_2_or_3(InsuredCategory.CATEGORY_2, D("2025-04-01")),
            Loss(D("2025-04-01"), LossReason.BECAME_CATEGORY_2),
            id="becomes-第2号-that-day",
        ),
        pytest.param(
            loss_on_becoming_category_2_or_3(InsuredCategory.CATEGORY_3, D("2025-04-30")),
            Loss(D("2025-04-30"), LossReason.BECAME_CATEGORY_3),
            id="becomes-第3号-that-day",
        ),
    ],
)
def test_the_day_of_loss(loss: Loss, expected: Loss) -> None:
    assert loss == expected


def test_the_timing_of_the_residence_status_exclusion_is_a_parameter() -> None:
    """[unconfirmed] same day (domain brief) or day after (some commentary): switchable, 厚年 unaffected."""
    assert loss_on_becoming_excluded(
        D("2025-06-30"), ExclusionCause.DESIGNATED_ACTIVITY_STAY, residence_status_timing=LossTiming.NEXT_DAY
    ) == Loss(D("2025-07-01"), LossReason.BECAME_EXCLUDED)
    assert loss_on_becoming_excluded(
        D("2025-06-30"), ExclusionCause.CAN_RECEIVE_KOSEI_OLD_AGE_BENEFIT, residence_status_timing=LossTiming.NEXT_DAY
    ) == Loss(D("2025-06-30"), LossReason.BECAME_EXCLUDED)


@pytest.mark.parametrize("category", [InsuredCategory.CATEGORY_1, InsuredCategory.VOLUNTARY], ids=str)
def test_a_category_change_from_category_1_goes_to_category_2_or_3(category: InsuredCategory) -> None:
    with pytest.raises(ValueError, match="第2号 or 第3号"):
        loss_on_becoming_category_2_or_3(category, D("2025-04-01"))
    with pytest.raises(ValueError, match="第2号 or 第3号"):
        loss_on_moving_abroad(D("2025-04-01"), became_on_same_day=category)
