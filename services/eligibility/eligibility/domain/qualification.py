"""Category-1 qualification (第1号被保険者の資格): who is one (国民年金法7条), and on which day the status is
acquired (資格取得, 8条) and lost (資格喪失, 9条).

Acquisition is on the day of the event itself. Loss is on the **day after** the event, except where the
statute says the same day (reaching 60, becoming excluded, becoming 第2号/第3号). Moving between 第1号 and
第2号/第3号 is a 種別変更 (11条の2), effective on the day the old category ends, not a new acquisition.

Every function takes the day it judges as a parameter: the law has no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import StrEnum
from typing import Final

from .age import age_on, day_reaching_age
from .categories import InsuredCategory, OtherCategoryStatus
from .parameters import Dated, DatedTable

_ONE_DAY = timedelta(days=1)
_CATEGORY_1_AND_VOLUNTARY = frozenset({InsuredCategory.CATEGORY_1, InsuredCategory.VOLUNTARY})
_CATEGORY_1_ONLY = frozenset({InsuredCategory.CATEGORY_1})
_VOLUNTARY_ONLY = frozenset({InsuredCategory.VOLUNTARY})


# ---------------------------------------------------------------------------------------------------------------
# Reason codes (資格取得事由・資格喪失事由). Values are the published codes of kokunen_contracts.eligibility.


class AcquisitionReason(StrEnum):
    """資格取得事由 (reason a period of insurance began)."""

    REACHED_20 = "reached_20"
    MOVED_IN_FROM_ABROAD = "moved_in_from_abroad"
    CEASED_EXCLUSION = "ceased_exclusion"
    LEFT_CATEGORY_2 = "left_category_2"
    LEFT_CATEGORY_3 = "left_category_3"
    VOLUNTARY_APPLICATION = "voluntary_application"
    FILED = "filed"

    @property
    def label_ja(self) -> str:
        return _ACQUISITION_LABELS[self][0]

    @property
    def article(self) -> str:
        return _ACQUISITION_LABELS[self][1]

    @property
    def fits(self) -> frozenset[InsuredCategory]:
        """The categories whose periods may begin for this reason."""
        return _ACQUISITION_FITS[self]

    @property
    def is_category_change(self) -> bool:
        """種別変更 (11条の2): the person was already insured, under another category."""
        return self in (AcquisitionReason.LEFT_CATEGORY_2, AcquisitionReason.LEFT_CATEGORY_3)


_ACQUISITION_LABELS: dict[AcquisitionReason, tuple[str, str]] = {
    AcquisitionReason.REACHED_20: ("20歳到達", "国民年金法8条1号"),
    AcquisitionReason.MOVED_IN_FROM_ABROAD: ("日本国内に住所を有するに至った（国外転入等）", "国民年金法8条2号"),
    AcquisitionReason.CEASED_EXCLUSION: ("適用除外に該当しなくなった", "国民年金法8条3号"),
    AcquisitionReason.LEFT_CATEGORY_2: ("第2号被保険者から種別変更", "国民年金法11条の2"),
    AcquisitionReason.LEFT_CATEGORY_3: ("第3号被保険者から種別変更", "国民年金法11条の2"),
    AcquisitionReason.VOLUNTARY_APPLICATION: ("任意加入の申出", "国民年金法附則5条1項"),
    AcquisitionReason.FILED: ("資格取得届による", "国民年金法12条"),
}

_ACQUISITION_FITS: dict[AcquisitionReason, frozenset[InsuredCategory]] = {
    AcquisitionReason.REACHED_20: _CATEGORY_1_ONLY,
    AcquisitionReason.MOVED_IN_FROM_ABROAD: _CATEGORY_1_ONLY,
    AcquisitionReason.CEASED_EXCLUSION: _CATEGORY_1_ONLY,
    AcquisitionReason.LEFT_CATEGORY_2: _CATEGORY_1_ONLY,
    AcquisitionReason.LEFT_CATEGORY_3: _CATEGORY_1_ONLY,
    AcquisitionReason.VOLUNTARY_APPLICATION: _VOLUNTARY_ONLY,
    AcquisitionReason.FILED: _CATEGORY_1_AND_VOLUNTARY,
}


class LossReason(StrEnum):
    """資格喪失事由 (reason a period of insurance ended)."""

    DEATH = "death"
    MOVED_ABROAD = "moved_abroad"
    REACHED_60 = "reached_60"
    BECAME_EXCLUDED = "became_excluded"
    BECAME_CATEGORY_2 = "became_category_2"
    BECAME_CATEGORY_3 = "became_category_3"
    REACHED_65 = "reached_65"
    REACHED_480_MONTHS = "reached_480_months"
    WITHDREW = "withdrew"
    FILED = "filed"

    @property
    def label_ja(self) -> str:
        return _LOSS_LABELS[self][0]

    @property
    def article(self) -> str:
        return _LOSS_LABELS[self][1]

    @property
    def fits(self) -> frozenset[InsuredCategory]:
        """The categories whose periods may end for this reason."""
        return _LOSS_FITS[self]

    @property
    def is_category_change(self) -> bool:
        """The person stays insured under 国民年金, as 第2号/第3号 (種別変更, 11条の2)."""
        return self in (LossReason.BECAME_CATEGORY_2, LossReason.BECAME_CATEGORY_3)


_LOSS_LABELS: dict[LossReason, tuple[str, str]] = {
    LossReason.DEATH: ("死亡", "国民年金法9条1号"),
    LossReason.MOVED_ABROAD: ("日本国内に住所を有しなくなった（国外転出）", "国民年金法9条2号"),
    LossReason.REACHED_60: ("60歳到達", "国民年金法9条3号"),
    LossReason.BECAME_EXCLUDED: ("厚年老齢給付等の受給権取得・適用除外", "国民年金法9条4号"),
    LossReason.BECAME_CATEGORY_2: ("第2号被保険者（厚生年金保険の被保険者）となった", "国民年金法11条の2・附則5条"),
    LossReason.BECAME_CATEGORY_3: ("第3号被保険者となった", "国民年金法11条の2"),
    LossReason.REACHED_65: ("65歳到達（任意加入）", "国民年金法附則5条"),
    LossReason.REACHED_480_MONTHS: ("480月到達（任意加入）", "国民年金法附則5条"),
    LossReason.WITHDREW: ("任意加入の喪失申出", "国民年金法附則5条"),
    LossReason.FILED: ("資格喪失届による", "国民年金法12条"),
}

_LOSS_FITS: dict[LossReason, frozenset[InsuredCategory]] = {
    LossReason.DEATH: _CATEGORY_1_AND_VOLUNTARY,
    LossReason.MOVED_ABROAD: _CATEGORY_1_AND_VOLUNTARY,
    LossReason.REACHED_60: _CATEGORY_1_ONLY,
    LossReason.BECAME_EXCLUDED: _CATEGORY_1_ONLY,
    LossReason.BECAME_CATEGORY_2: _CATEGORY_1_AND_VOLUNTARY,  # 任意加入: becoming 厚生年金 insured ends it
    LossReason.BECAME_CATEGORY_3: _CATEGORY_1_ONLY,
    LossReason.REACHED_65: _VOLUNTARY_ONLY,
    LossReason.REACHED_480_MONTHS: _VOLUNTARY_ONLY,
    LossReason.WITHDREW: _VOLUNTARY_ONLY,
    LossReason.FILED: _CATEGORY_1_AND_VOLUNTARY,
}


# ---------------------------------------------------------------------------------------------------------------
# Thresholds (dated, see parameters.py).


@dataclass(frozen=True)
class AgeBand:
    """An age band: ``from_age`` or over (以上) and under ``until_age`` (未満)."""

    from_age: int
    until_age: int

    def contains(self, age: int) -> bool:
        return self.from_age <= age < self.until_age


CATEGORY_1_AGE_BAND: Final = DatedTable[AgeBand](
    "第1号被保険者の年齢要件 (国民年金法7条1項1号: 20歳以上60歳未満)",
    (
        Dated(
            AgeBand(from_age=20, until_age=60),
            valid_from=date(1986, 4, 1),
            source="国民年金法7条1項1号 (昭和60年法律34号, 1986-04-01施行); earlier (旧法) periods are out of scope",
        ),
    ),
)


# ---------------------------------------------------------------------------------------------------------------
# Exclusions (適用除外): 7条1項1号括弧書 and 施行規則1条の2.

DESIGNATED_ACTIVITIES_STATUS: Final = "特定活動"  # 在留資格「特定活動」 (入管法別表第1の5)


class DesignatedActivity(StrEnum):
    """特定活動の内容: the activity the Minister designated for a 特定活動 resident (特定活動告示)."""

    MEDICAL_STAY = "医療滞在"  # 告示25号: 入院して医療を受ける活動
    MEDICAL_STAY_ATTENDANT = "医療滞在者の付添人"  # 告示26号: その日常生活上の世話
    LONG_STAY_TOURISM = "観光・保養"  # 観光・保養等を目的とする長期滞在 (ロングステイ)
    LONG_STAY_TOURISM_SPOUSE = "長期滞在者の同行配偶者"  # ロングステイの同行配偶者
    OTHER = "その他"  # any other designated activity (ワーキングホリデー, 家事使用人, …)

    @classmethod
    def from_label(cls, label: str | None) -> DesignatedActivity | None:
        """Read the resident record's free text. Unrecognised text counts as OTHER (not excluded):
        adapters that meet a new wording should add it to the aliases, not guess here."""
        if label is None or not label.strip():
            return None
        text = label.strip()
        for member in cls:
            if text == member.value:
                return member
        return _ACTIVITY_ALIASES.get(text, cls.OTHER)


_ACTIVITY_ALIASES: dict[str, DesignatedActivity] = {
    "医療滞在の付添人": DesignatedActivity.MEDICAL_STAY_ATTENDANT,
    "医療滞在者の付添い": DesignatedActivity.MEDICAL_STAY_ATTENDANT,
    "観光・保養等を目的とする長期滞在": DesignatedActivity.LONG_STAY_TOURISM,
    "ロングステイ": DesignatedActivity.LONG_STAY_TOURISM,
    "観光・保養の同行配偶者": DesignatedActivity.LONG_STAY_TOURISM_SPOUSE,
    "同行配偶者": DesignatedActivity.LONG_STAY_TOURISM_SPOUSE,
}

EXCLUDED_DESIGNATED_ACTIVITIES: Final = DatedTable[frozenset[DesignatedActivity]](
    "適用除外となる特定活動 (国民年金法施行規則1条の2)",
    (
        Dated(frozenset(), valid_from=date.min, valid_to=date(2020, 3, 31), source="施行規則1条の2 施行前"),
        Dated(
            frozenset(
                {
                    DesignatedActivity.MEDICAL_STAY,
                    DesignatedActivity.LONG_STAY_TOURISM,
                    # [unconfirmed] the attendant and the accompanying spouse are not in the domain brief; JPS
                    # guidance (国民年金第1号・第3号被保険者の適用除外) lists them. Remove here if not confirmed.
                    DesignatedActivity.MEDICAL_STAY_ATTENDANT,
                    DesignatedActivity.LONG_STAY_TOURISM_SPOUSE,
                }
            ),
            valid_from=date(2020, 4, 1),
            source="施行規則1条の2 (令和元年厚生労働省令36号); 付添人・同行配偶者 [unconfirmed]",
        ),
    ),
)


class ExclusionCause(StrEnum):
    """適用除外事由 (why a resident aged 20–59 is not category 1 although living in Japan)."""

    CAN_RECEIVE_KOSEI_OLD_AGE_BENEFIT = "can_receive_kosei_old_age_benefit"  # 7条1項1号括弧書
    DESIGNATED_ACTIVITY_STAY = "designated_activity_stay"  # 施行規則1条の2

    @property
    def label_ja(self) -> str:
        return _EXCLUSION_LABELS[self]


_EXCLUSION_LABELS: dict[ExclusionCause, str] = {
    ExclusionCause.CAN_RECEIVE_KOSEI_OLD_AGE_BENEFIT: "厚生年金保険法に基づく老齢給付等を受けることができる者",
    ExclusionCause.DESIGNATED_ACTIVITY_STAY: "特定活動（医療滞在・観光保養等）により在留する者",
}


def is_excluded_by_residence_status(
    residence_status: str | None, designated_activity: DesignatedActivity | None, on: date
) -> bool:
    """適用除外 by 在留資格 (国民年金法7条1項1号, 施行規則1条の2; since 2020-04-01).

    A foreign resident whose status is 特定活動 for medical stay (医療滞在) or long-stay tourism (観光・保養)
    is not a category-1 insured; which activities count is the dated table EXCLUDED_DESIGNATED_ACTIVITIES.
    """
    return (
        residence_status == DESIGNATED_ACTIVITIES_STATUS
        and designated_activity is not None
        and designated_activity in EXCLUDED_DESIGNATED_ACTIVITIES.on(on)
    )


# ---------------------------------------------------------------------------------------------------------------
# Who is a category-1 insured on a day (7条1項1号).


@dataclass(frozen=True)
class PersonSituation:
    """本人の状況: what the law looks at, as it stands on the day a rule is judged.

    ``residence_status`` is the 在留資格 (None for Japanese nationals); ``designated_activity`` its 特定活動の
    内容. ``can_receive_kosei_old_age_benefit`` is 厚生年金保険法に基づく老齢給付等を受けることができる.
    """

    birth: date
    has_address_in_japan: bool
    other_category: OtherCategoryStatus
    can_receive_kosei_old_age_benefit: bool = False
    residence_status: str | None = None
    designated_activity: DesignatedActivity | None = None


def exclusion_cause(situation: PersonSituation, on: date) -> ExclusionCause | None:
    """適用除外事由 (7条1項1号括弧書, 施行規則1条の2) that applies on ``on``, if any.

    The 老齢給付等 exclusion is in 7条1項1号 since 1986-04; only the 特定活動 one starts on 2020-04-01.
    """
    if situation.can_receive_kosei_old_age_benefit:
        return ExclusionCause.CAN_RECEIVE_KOSEI_OLD_AGE_BENEFIT
    if is_excluded_by_residence_status(situation.residence_status, situation.designated_activity, on):
        return ExclusionCause.DESIGNATED_ACTIVITY_STAY
    return None


class Category1Obstacle(StrEnum):
    """A requirement of 7条1項1号 that the person does not meet on the day (for explanations)."""

    NO_ADDRESS_IN_JAPAN = "no_address_in_japan"
    UNDER_20 = "under_20"
    AGED_60_OR_OVER = "aged_60_or_over"
    IS_CATEGORY_2 = "is_category_2"
    IS_CATEGORY_3 = "is_category_3"
    EXCLUDED = "excluded"

    @property
    def label_ja(self) -> str:
        return _OBSTACLE_LABELS[self]


_OBSTACLE_LABELS: dict[Category1Obstacle, str] = {
    Category1Obstacle.NO_ADDRESS_IN_JAPAN: "日本国内に住所を有しない",
    Category1Obstacle.UNDER_20: "20歳未満",
    Category1Obstacle.AGED_60_OR_OVER: "60歳以上",
    Category1Obstacle.IS_CATEGORY_2: "第2号被保険者に該当",
    Category1Obstacle.IS_CATEGORY_3: "第3号被保険者に該当",
    Category1Obstacle.EXCLUDED: "適用除外",
}


def category1_obstacles(situation: PersonSituation, on: date) -> frozenset[Category1Obstacle]:
    """Every requirement of 第1号被保険者 (国民年金法7条1項1号) the person fails on ``on``; empty if none.

    UNKNOWN 第2号/第3号 status is no obstacle: acquisition happens by law on the day of the event, so the city
    enrols and JPS data later turns it into a 種別変更 — waiting instead would leave a gap in the record.
    """
    obstacles: set[Category1Obstacle] = set()
    if not situation.has_address_in_japan:
        obstacles.add(Category1Obstacle.NO_ADDRESS_IN_JAPAN)
    band = CATEGORY_1_AGE_BAND.on(on)
    age = age_on(situation.birth, on)
    if age < band.from_age:
        obstacles.add(Category1Obstacle.UNDER_20)
    elif age >= band.until_age:
        obstacles.add(Category1Obstacle.AGED_60_OR_OVER)
    if situation.other_category is OtherCategoryStatus.CATEGORY_2:
        obstacles.add(Category1Obstacle.IS_CATEGORY_2)
    elif situation.other_category is OtherCategoryStatus.CATEGORY_3:
        obstacles.add(Category1Obstacle.IS_CATEGORY_3)
    if exclusion_cause(situation, on) is not None:
        obstacles.add(Category1Obstacle.EXCLUDED)
    return frozenset(obstacles)


def is_category1_candidate(situation: PersonSituation, on: date) -> bool:
    """第1号被保険者に該当する (国民年金法7条1項1号): an address in Japan, 20 or over and under 60, not
    第2号/第3号 (UNKNOWN counts as candidate, see category1_obstacles), and not excluded."""
    return not category1_obstacles(situation, on)


# ---------------------------------------------------------------------------------------------------------------
# Acquisition (資格取得, 8条).


@dataclass(frozen=True)
class Acquisition:
    """資格取得: the category acquired, on which day, and why."""

    category: InsuredCategory
    on: date
    reason: AcquisitionReason

    def __post_init__(self) -> None:
        if self.category not in self.reason.fits:
            raise ValueError(f"{self.reason.label_ja} does not start a {self.category.label_ja} period")


def _category_1_if_candidate(situation: PersonSituation, on: date, reason: AcquisitionReason) -> Acquisition | None:
    if not is_category1_candidate(situation, on):
        return None
    return Acquisition(InsuredCategory.CATEGORY_1, on, reason)


def acquisition_on_reaching_20(situation: PersonSituation) -> Acquisition | None:
    """20歳到達による資格取得 (国民年金法8条1号): on the 20歳到達日 (the day before the 20th birthday).

    ``situation`` is the person as on that day; None if they are not category 1 then (abroad, 第2号, …).
    """
    reached_on = day_reaching_age(situation.birth, CATEGORY_1_AGE_BAND, lambda band: band.from_age)
    return _category_1_if_candidate(situation, reached_on, AcquisitionReason.REACHED_20)


def acquisition_on_moving_in(situation: PersonSituation, moved_in_on: date) -> Acquisition | None:
    """国内に住所を有するに至ったことによる資格取得 (8条2号, e.g. 国外転入): on the day itself.

    ``situation`` is the person after the move; None unless aged 20–59, not 第2号/第3号 and not excluded.
    """
    return _category_1_if_candidate(situation, moved_in_on, AcquisitionReason.MOVED_IN_FROM_ABROAD)


def acquisition_on_ceasing_exclusion(situation: PersonSituation, ceased_on: date) -> Acquisition | None:
    """適用除外に該当しなくなったことによる資格取得 (8条3号): on the day the exclusion ceases."""
    return _category_1_if_candidate(situation, ceased_on, AcquisitionReason.CEASED_EXCLUSION)


def category_change_to_category_1(
    situation: PersonSituation, previous: InsuredCategory, previous_ended_on: date
) -> Acquisition | None:
    """種別変更 第2号/第3号 → 第1号 (国民年金法11条の2): effective the day the old category ends.

    Not a new acquisition: the person stays insured. ``previous_ended_on`` is the day the old status was lost
    (for 厚生年金, the day after the last working day). None if the person is not category 1 that day.
    """
    reasons = {
        InsuredCategory.CATEGORY_2: AcquisitionReason.LEFT_CATEGORY_2,
        InsuredCategory.CATEGORY_3: AcquisitionReason.LEFT_CATEGORY_3,
    }
    if previous not in reasons:
        raise ValueError(f"a 種別変更 to 第1号 comes from 第2号 or 第3号, not {previous.label_ja}")
    # On that day the old category has ended, whatever the record still says.
    after = replace(situation, other_category=OtherCategoryStatus.NONE)
    return _category_1_if_candidate(after, previous_ended_on, reasons[previous])


# ---------------------------------------------------------------------------------------------------------------
# Loss (資格喪失, 9条).


@dataclass(frozen=True)
class Loss:
    """資格喪失 (or the end of a category by 種別変更): on which day, and why."""

    on: date
    reason: LossReason


class LossTiming(StrEnum):
    """喪失日: the day of the event (当日) or the day after (翌日)."""

    SAME_DAY = "same_day"
    NEXT_DAY = "next_day"


# [unconfirmed] The domain brief puts every 9条4号 exclusion on the same day. Some commentary reads the 2020
# 施行規則1条の2 exclusion as a 翌日 loss. Kept a parameter until JPS confirms.
RESIDENCE_STATUS_EXCLUSION_LOSS_TIMING: Final = LossTiming.SAME_DAY


def loss_on_death(died_on: date) -> Loss:
    """死亡による資格喪失 (国民年金法9条1号): the day after death."""
    return Loss(died_on + _ONE_DAY, LossReason.DEATH)


def loss_on_moving_abroad(moved_out_on: date, *, became_on_same_day: InsuredCategory | None = None) -> Loss:
    """国内に住所を有しなくなったことによる資格喪失 (9条2号, 国外転出): the day after the 転出日.

    If the person becomes 第2号/第3号 on that same day (9条括弧書) the category ends that day; it is then
    recorded as the 種別変更 it is, since the person stays insured under 国民年金.
    """
    if became_on_same_day is None:
        return Loss(moved_out_on + _ONE_DAY, LossReason.MOVED_ABROAD)
    return loss_on_becoming_category_2_or_3(became_on_same_day, moved_out_on)


def loss_on_reaching_60(birth: date) -> Loss:
    """60歳到達による資格喪失 (国民年金法9条3号): the 60歳到達日 itself (the day before the 60th birthday)."""
    return Loss(day_reaching_age(birth, CATEGORY_1_AGE_BAND, lambda band: band.until_age), LossReason.REACHED_60)


def loss_on_becoming_excluded(
    became_excluded_on: date,
    cause: ExclusionCause,
    *,
    residence_status_timing: LossTiming = RESIDENCE_STATUS_EXCLUSION_LOSS_TIMING,
) -> Loss:
    """適用除外該当による資格喪失 (国民年金法9条4号): that day.

    For the 施行規則1条の2 exclusion the timing is ``residence_status_timing`` ([unconfirmed], see above).
    """
    if cause is ExclusionCause.DESIGNATED_ACTIVITY_STAY and residence_status_timing is LossTiming.NEXT_DAY:
        return Loss(became_excluded_on + _ONE_DAY, LossReason.BECAME_EXCLUDED)
    return Loss(became_excluded_on, LossReason.BECAME_EXCLUDED)


def loss_on_becoming_category_2_or_3(category: InsuredCategory, became_on: date) -> Loss:
    """種別変更 第1号 → 第2号/第3号 (国民年金法11条の2): the category-1 period ends that day."""
    reasons = {
        InsuredCategory.CATEGORY_2: LossReason.BECAME_CATEGORY_2,
        InsuredCategory.CATEGORY_3: LossReason.BECAME_CATEGORY_3,
    }
    if category not in reasons:
        raise ValueError(f"a 種別変更 from 第1号 goes to 第2号 or 第3号, not {category.label_ja}")
    return Loss(became_on, reasons[category])
