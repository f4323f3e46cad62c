"""資格の取得 (国民年金法8条) and 資格の喪失 (9条) of a category-1 insured person: on which day.

Acquisition is on the day of the event itself. Loss is on the **day after** the event, except where
the statute says the same day (reaching 60, becoming excluded, becoming 第2号/第3号).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from .age import age_on, age_reached_on

CATEGORY_1_MIN_AGE = 20  # 国民年金法7条1項1号: 20歳以上
CATEGORY_1_END_AGE = 60  # 同: 60歳未満


class OtherCategory(StrEnum):
    """Whether the person is 第2号 (厚生年金の被保険者) or 第3号 (its dependent spouse).

    The resident record does not say: it comes from JPS data (送付) or a filing. Until one of them
    says, the state is UNKNOWN, and an UNKNOWN person of the right age living in Japan is treated as a
    category-1 candidate — the city's duty is to enrol them and JPS corrects to 第2号/第3号 when its
    data says so (a 種別変更 then follows).
    """

    UNKNOWN = "unknown"
    NONE = "none"  # neither 第2号 nor 第3号
    CATEGORY_2 = "category_2"
    CATEGORY_3 = "category_3"


# 施行規則1条の2 (since 2020-04-01): 特定活動 for these purposes is excluded from category 1.
EXCLUDED_DESIGNATED_ACTIVITIES = frozenset({"医療滞在", "観光・保養"})
EXCLUSION_IN_FORCE_FROM = date(2020, 4, 1)


def is_excluded_resident(residence_status: str | None, designated_activity: str | None, on: date) -> bool:
    """適用除外 (施行規則1条の2): a foreign resident staying under 特定活動 for medical stay
    (医療滞在) or long-stay tourism (観光・保養) is not a category-1 insured (from 2020-04-01)."""
    return (
        on >= EXCLUSION_IN_FORCE_FROM
        and residence_status == "特定活動"
        and designated_activity in EXCLUDED_DESIGNATED_ACTIVITIES
    )


@dataclass(frozen=True)
class Candidate:
    """Whether a person meets 7条1項1号 on a day, and if not, why not (for explanations)."""

    eligible: bool
    reason: str


def category1_candidate(
    *,
    birth: date,
    on: date,
    lives_in_japan: bool,
    other_category: OtherCategory,
    residence_status: str | None = None,
    designated_activity: str | None = None,
) -> Candidate:
    """第1号被保険者 (国民年金法7条1項1号): an address in Japan, 20 or over and under 60, not 第2号
    or 第3号, not excluded. UNKNOWN 第2号/第3号 status counts as a candidate (see OtherCategory)."""
    if not lives_in_japan:
        return Candidate(False, "国内に住所を有しない")
    age = age_on(birth, on)
    if age < CATEGORY_1_MIN_AGE:
        return Candidate(False, "20歳未満")
    if age >= CATEGORY_1_END_AGE:
        return Candidate(False, "60歳以上")
    if other_category in (OtherCategory.CATEGORY_2, OtherCategory.CATEGORY_3):
        return Candidate(False, f"{'第2号' if other_category is OtherCategory.CATEGORY_2 else '第3号'}被保険者")
    if is_excluded_resident(residence_status, designated_activity, on):
        return Candidate(False, "適用除外 (施行規則1条の2)")
    return Candidate(True, "第1号被保険者に該当")


def acquisition_on_reaching_20(birth: date) -> date:
    """8条1号: acquired on the day the person reaches 20 (the 20歳到達日)."""
    return age_reached_on(birth, CATEGORY_1_MIN_AGE)


def acquisition_on_moving_in(moved_in_on: date) -> date:
    """8条2号: acquired on the day the person comes to have an address in Japan (the 転入日)."""
    return moved_in_on


def loss_on_death(died_on: date) -> date:
    """9条1号: lost on the day after death."""
    return died_on + timedelta(days=1)


def loss_on_moving_abroad(moved_out_on: date, *, becomes_category_2_or_3_that_day: bool = False) -> date:
    """9条2号: lost on the day after the person ceases to have an address in Japan — the same day
    when the person becomes 第2号/第3号 that day (9条2号括弧書)."""
    return moved_out_on if becomes_category_2_or_3_that_day else moved_out_on + timedelta(days=1)


def loss_on_reaching_60(birth: date) -> date:
    """9条3号: lost on the 60歳到達日 itself (the day before the 60th birthday)."""
    return age_reached_on(birth, CATEGORY_1_END_AGE)


def loss_on_exclusion(excluded_on: date) -> date:
    """9条4号 (and 5号/6号 種別変更): lost on the day the person becomes excluded, or 第2号/第3号."""
    return excluded_on
