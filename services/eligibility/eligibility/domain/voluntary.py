"""Voluntary insurance (任意加入被保険者): 国民年金法附則5条.

Who may join by 申出 (附則5条1項), when the status starts (the day of the 申出) and when it ends. No
exemption (免除・納付猶予・学生納付特例) applies to a voluntary insured.

Out of scope here: 特例任意加入 (65–69, 平成6年・平成16年改正法附則), the bank-transfer duty of domestic
members (a payment rule, not a qualification rule), and the end of an abroad member's status on coming
back to Japan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Final

from .age import age_on, day_reaching_age
from .categories import InsuredCategory
from .parameters import Dated, DatedTable
from .qualification import (
    Acquisition,
    AcquisitionReason,
    AgeBand,
    Loss,
    LossReason,
    PersonSituation,
    is_excluded_by_residence_status,
)

_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class VoluntaryLimits:
    """The age bands of 附則5条1項1–3号 and the month count at which membership ends (480月)."""

    domestic_with_old_age_benefit: AgeBand  # 1号: 国内, 20歳以上60歳未満, 厚年老齢給付等を受けられる
    domestic_over_60: AgeBand  # 2号: 国内, 60歳以上65歳未満
    japanese_abroad: AgeBand  # 3号: 国外の日本国籍者, 20歳以上65歳未満
    month_cap: int  # 老齢基礎年金の額の計算に算入される月数が480に達したら終わる


VOLUNTARY_LIMITS: Final = DatedTable[VoluntaryLimits](
    "任意加入の年齢要件と480月 (国民年金法附則5条)",
    (
        Dated(
            VoluntaryLimits(
                domestic_with_old_age_benefit=AgeBand(20, 60),
                domestic_over_60=AgeBand(60, 65),
                japanese_abroad=AgeBand(20, 65),
                month_cap=480,
            ),
            valid_from=date(1986, 4, 1),
            source="国民年金法附則5条 (昭和60年法律34号, 1986-04-01施行)",
        ),
    ),
)

# The 施行規則1条の2 exclusion (医療滞在・観光保養) reaches domestic voluntary members too; commentary dates
# that from 2021-04-01, a year after category 1. [unconfirmed] date: not in the domain brief.
DOMESTIC_VOLUNTARY_RESIDENCE_EXCLUSION: Final = DatedTable[bool](
    "任意加入（国内居住）への施行規則1条の2の適用",
    (
        Dated(False, valid_from=date.min, valid_to=date(2021, 3, 31), source="適用前"),
        Dated(True, valid_from=date(2021, 4, 1), source="附則5条1項1号・2号括弧書 [unconfirmed date]"),
    ),
)


class VoluntaryBasis(StrEnum):
    """任意加入の根拠 (which item of 附則5条1項 lets the person join)."""

    DOMESTIC_WITH_OLD_AGE_BENEFIT = "domestic_with_old_age_benefit"  # 附則5条1項1号
    DOMESTIC_60_TO_64 = "domestic_60_to_64"  # 附則5条1項2号
    JAPANESE_ABROAD = "japanese_abroad"  # 附則5条1項3号

    @property
    def label_ja(self) -> str:
        return _BASIS_LABELS[self]

    @property
    def lives_in_japan(self) -> bool:
        return self is not VoluntaryBasis.JAPANESE_ABROAD


_BASIS_LABELS: dict[VoluntaryBasis, str] = {
    VoluntaryBasis.DOMESTIC_WITH_OLD_AGE_BENEFIT: (
        "国内居住・20歳以上60歳未満・厚年老齢給付等の受給権者（附則5条1項1号）"
    ),
    VoluntaryBasis.DOMESTIC_60_TO_64: "国内居住・60歳以上65歳未満（附則5条1項2号）",
    VoluntaryBasis.JAPANESE_ABROAD: "国外居住の日本国籍者・20歳以上65歳未満（附則5条1項3号）",
}


def voluntary_basis(situation: PersonSituation, on: date, *, is_japanese_national: bool) -> VoluntaryBasis | None:
    """任意加入できる者 (国民年金法附則5条1項): the item that lets the person join on ``on``, or None.

    Never 第2号/第3号 (附則5条1項 本文). UNKNOWN 第2号/第3号 status does not stop a 申出: the person states it
    and JPS checks. Domestic members must not be excluded under 施行規則1条の2 (dated, see above).
    """
    if situation.other_category.rules_out_category_1:
        return None
    limits = VOLUNTARY_LIMITS.on(on)
    age = age_on(situation.birth, on)
    if not situation.has_address_in_japan:
        return VoluntaryBasis.JAPANESE_ABROAD if is_japanese_national and limits.japanese_abroad.contains(age) else None
    if DOMESTIC_VOLUNTARY_RESIDENCE_EXCLUSION.on(on) and is_excluded_by_residence_status(
        situation.residence_status, situation.designated_activity, on
    ):
        return None
    if situation.can_receive_kosei_old_age_benefit and limits.domestic_with_old_age_benefit.contains(age):
        return VoluntaryBasis.DOMESTIC_WITH_OLD_AGE_BENEFIT
    if limits.domestic_over_60.contains(age):
        return VoluntaryBasis.DOMESTIC_60_TO_64
    return None


def may_join_voluntarily(
    situation: PersonSituation, on: date, *, is_japanese_national: bool, months_counted: int
) -> bool:
    """任意加入の申出ができる (附則5条1項): a basis applies and the 480 months are not yet reached.

    ``months_counted`` is the months counted toward the full 老齢基礎年金 (as JPS counts them).
    """
    if months_counted >= VOLUNTARY_LIMITS.on(on).month_cap:
        return False
    return voluntary_basis(situation, on, is_japanese_national=is_japanese_national) is not None


def voluntary_acquisition(
    situation: PersonSituation, applied_on: date, *, is_japanese_national: bool, months_counted: int
) -> Acquisition | None:
    """任意加入被保険者の資格取得 (附則5条): on the day of the 申出, if the person may join then."""
    if not may_join_voluntarily(
        situation, applied_on, is_japanese_national=is_japanese_national, months_counted=months_counted
    ):
        return None
    return Acquisition(InsuredCategory.VOLUNTARY, applied_on, AcquisitionReason.VOLUNTARY_APPLICATION)


def voluntary_loss_on_death(died_on: date) -> Loss:
    """任意加入: 死亡 → the day after (附則5条)."""
    return Loss(died_on + _ONE_DAY, LossReason.DEATH)


def voluntary_loss_on_leaving_japan(moved_out_on: date) -> Loss:
    """任意加入 (国内居住の1号・2号): 日本国内に住所を有しなくなった → the day after (附則5条)."""
    return Loss(moved_out_on + _ONE_DAY, LossReason.MOVED_ABROAD)


def voluntary_loss_on_reaching_65(birth: date) -> Loss:
    """任意加入: 65歳到達 → the 65歳到達日 itself (the day before the 65th birthday) (附則5条)."""
    # 65 is where both 附則5条1項2号 and 3号 end; 1号 members carry on under 2号 after 60.
    reached_on = day_reaching_age(birth, VOLUNTARY_LIMITS, lambda limits: limits.domestic_over_60.until_age)
    return Loss(reached_on, LossReason.REACHED_65)


def voluntary_loss_on_reaching_480_months(reached_on: date) -> Loss:
    """任意加入: the months counted reach 480 → that day (附則5条)."""
    return Loss(reached_on, LossReason.REACHED_480_MONTHS)


def voluntary_loss_on_becoming_kosei_insured(became_on: date) -> Loss:
    """任意加入: becoming a 厚生年金保険 insured (第2号) → that day (附則5条)."""
    return Loss(became_on, LossReason.BECAME_CATEGORY_2)


def voluntary_loss_on_withdrawal(accepted_on: date) -> Loss:
    """任意加入: withdrawal (喪失の申出) accepted → that day (附則5条)."""
    return Loss(accepted_on, LossReason.WITHDREW)


def exemptions_apply_to(category: InsuredCategory) -> bool:
    """免除・納付猶予・学生納付特例 (89条, 90条, 90条の2, 90条の3) are for 第1号 only: not for 任意加入
    (附則5条), and 第2号/第3号 pay no 国民年金 premium of their own."""
    return category is InsuredCategory.CATEGORY_1
