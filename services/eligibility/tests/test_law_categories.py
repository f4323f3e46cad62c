"""被保険者種別 and reason codes: stable codes, Japanese labels, and which category each reason fits."""

from __future__ import annotations

from enum import StrEnum

import pytest
from eligibility.domain import (
    AcquisitionReason,
    Category1Obstacle,
    DesignatedActivity,
    ExclusionCause,
    InsuredCategory,
    LossReason,
    OtherCategoryStatus,
)
from kokunen_contracts import eligibility as contract

Labelled = InsuredCategory | OtherCategoryStatus | AcquisitionReason | LossReason | Category1Obstacle | ExclusionCause
LABELLED: list[Labelled] = [
    *InsuredCategory,
    *OtherCategoryStatus,
    *AcquisitionReason,
    *LossReason,
    *Category1Obstacle,
    *ExclusionCause,
]


@pytest.mark.parametrize("member", LABELLED, ids=repr)
def test_every_code_has_a_japanese_label(member: Labelled) -> None:
    assert any(ord(char) > 0x3000 for char in member.label_ja), f"{member!r} has no Japanese in {member.label_ja!r}"


@pytest.mark.parametrize(
    ("member", "code"),
    [
        (AcquisitionReason.REACHED_20, "reached_20"),
        (AcquisitionReason.MOVED_IN_FROM_ABROAD, "moved_in_from_abroad"),
        (AcquisitionReason.CEASED_EXCLUSION, "ceased_exclusion"),
        (AcquisitionReason.LEFT_CATEGORY_2, "left_category_2"),
        (AcquisitionReason.VOLUNTARY_APPLICATION, "voluntary_application"),
        (LossReason.DEATH, "death"),
        (LossReason.MOVED_ABROAD, "moved_abroad"),
        (LossReason.REACHED_60, "reached_60"),
        (LossReason.BECAME_EXCLUDED, "became_excluded"),
        (LossReason.BECAME_CATEGORY_2, "became_category_2"),
        (LossReason.REACHED_65, "reached_65"),
        (LossReason.REACHED_480_MONTHS, "reached_480_months"),
        (LossReason.WITHDREW, "withdrew"),
        (InsuredCategory.CATEGORY_1, "category_1"),
        (InsuredCategory.VOLUNTARY, "voluntary"),
        (OtherCategoryStatus.UNKNOWN, "unknown"),
    ],
    ids=str,
)
def test_reason_and_category_codes_are_stable(member: StrEnum, code: str) -> None:
    assert member.value == code
    assert type(member)(code) is member
    assert type(member)[member.name] is member


@pytest.mark.parametrize(
    ("ours", "published"),
    [
        (InsuredCategory, contract.InsuredCategory),
        (AcquisitionReason, contract.AcquisitionReason),
        (LossReason, contract.LossReason),
    ],
    ids=lambda enum: enum.__name__,
)
def test_codes_are_the_ones_published_in_the_contract(ours: type[StrEnum], published: type[StrEnum]) -> None:
    assert {m.name: m.value for m in ours} == {m.name: m.value for m in published}


def test_other_category_codes_are_those_of_the_person_table() -> None:
    # eligibility.person.other_category: unknown|none|category_2|category_3 (migration 0001)
    assert {status.value for status in OtherCategoryStatus} == {"unknown", "none", "category_2", "category_3"}


@pytest.mark.parametrize(
    ("status", "rules_out"),
    [
        pytest.param(OtherCategoryStatus.UNKNOWN, False, id="UNKNOWN-does-not-rule-out-第1号"),
        pytest.param(OtherCategoryStatus.NONE, False, id="neither-2-nor-3"),
        pytest.param(OtherCategoryStatus.CATEGORY_2, True, id="第2号"),
        pytest.param(OtherCategoryStatus.CATEGORY_3, True, id="第3号"),
    ],
)
def test_only_a_known_category_2_or_3_rules_out_category_1(status: OtherCategoryStatus, rules_out: bool) -> None:
    assert status.rules_out_category_1 is rules_out


def test_other_category_status_names_the_insured_category() -> None:
    assert OtherCategoryStatus.CATEGORY_2.insured_category is InsuredCategory.CATEGORY_2
    assert OtherCategoryStatus.CATEGORY_3.insured_category is InsuredCategory.CATEGORY_3
    assert OtherCategoryStatus.UNKNOWN.insured_category is None


def test_only_voluntary_insurance_is_not_compulsory() -> None:
    assert [c for c in InsuredCategory if not c.is_compulsory] == [InsuredCategory.VOLUNTARY]


@pytest.mark.parametrize(
    ("reason", "fits"),
    [
        pytest.param(AcquisitionReason.REACHED_20, {InsuredCategory.CATEGORY_1}, id="20歳到達-starts-第1号"),
        pytest.param(AcquisitionReason.VOLUNTARY_APPLICATION, {InsuredCategory.VOLUNTARY}, id="申出-starts-任意加入"),
        pytest.param(LossReason.REACHED_60, {InsuredCategory.CATEGORY_1}, id="60歳到達-ends-第1号-only"),
        pytest.param(LossReason.REACHED_65, {InsuredCategory.VOLUNTARY}, id="65歳到達-ends-任意加入-only"),
        pytest.param(LossReason.WITHDREW, {InsuredCategory.VOLUNTARY}, id="喪失申出-ends-任意加入-only"),
        pytest.param(LossReason.DEATH, {InsuredCategory.CATEGORY_1, InsuredCategory.VOLUNTARY}, id="death-ends-either"),
    ],
)
def test_each_reason_fits_its_categories(reason: AcquisitionReason | LossReason, fits: set[InsuredCategory]) -> None:
    assert reason.fits == fits


@pytest.mark.parametrize("reason", [*AcquisitionReason, *LossReason], ids=str)
def test_every_reason_cites_its_article(reason: AcquisitionReason | LossReason) -> None:
    assert reason.article.startswith("国民年金法")
    assert "条" in reason.article


def test_category_changes_are_told_apart_from_new_qualification() -> None:
    assert {r for r in AcquisitionReason if r.is_category_change} == {
        AcquisitionReason.LEFT_CATEGORY_2,
        AcquisitionReason.LEFT_CATEGORY_3,
    }
    assert {r for r in LossReason if r.is_category_change} == {
        LossReason.BECAME_CATEGORY_2,
        LossReason.BECAME_CATEGORY_3,
    }


@pytest.mark.parametrize(
    ("label", "activity"),
    [
        pytest.param("医療滞在", DesignatedActivity.MEDICAL_STAY, id="医療滞在"),
        pytest.param("観光・保養", DesignatedActivity.LONG_STAY_TOURISM, id="観光・保養"),
        pytest.param(" 観光・保養 ", DesignatedActivity.LONG_STAY_TOURISM, id="surrounding-spaces"),
        pytest.param("医療滞在の付添人", DesignatedActivity.MEDICAL_STAY_ATTENDANT, id="付添人"),
        pytest.param("同行配偶者", DesignatedActivity.LONG_STAY_TOURISM_SPOUSE, id="同行配偶者"),
        pytest.param("ワーキング・ホリデー", DesignatedActivity.OTHER, id="another-activity"),
        pytest.param("", None, id="empty"),
        pytest.param(None, None, id="none"),
    ],
)
def test_the_designated_activity_is_read_from_the_resident_records_text(
    label: str | None, activity: DesignatedActivity | None
) -> None:
    assert DesignatedActivity.from_label(label) is activity
