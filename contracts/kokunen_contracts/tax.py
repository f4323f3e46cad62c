"""Resident-tax income contracts (住民税 所得情報).

``IncomeAssessed`` is what the city's tax system (税システム) publishes when it determines 個人住民税
(当初賦課, each June) or corrects it (更正) during the year: the income part of the assessment, the 19
fields of the assessment's ＜所得情報＞ (seed 別添2) plus those the exemption formulas also need
(小規模企業共済等掛金控除, ひとり親, 非課税). ``tax_sync`` is its only consumer; the same records also
arrive once a year as a file (the annual run).

``IncomeDetermined`` is what ``tax_sync`` publishes for exemption screening (免除・納付猶予・学生納付特例,
国民年金法90条等): only the figures the income test uses — no name, no address, no revenue figures — with a
correction marker and the id of the figure it supersedes, so that eligibility can re-screen.

Amounts are integer yen; a float, even ``1.0``, is refused (``strict``), so that a rounding done
somewhere upstream shows up as an error instead of a silently different figure.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, ClassVar, Self

from pydantic import Field, model_validator

from .envelope import Event
from .identifiers import AtenaNumber
from .labels import LabelledEnum

Count = Annotated[int, Field(strict=True, ge=0, le=99)]
"""A number of persons (扶養親族の数): a non-negative integer."""

Yen = Annotated[int, Field(strict=True, ge=0, le=999_999_999_999)]
"""An amount in whole yen, never negative."""

SignedYen = Annotated[int, Field(strict=True, ge=-999_999_999_999, le=999_999_999_999)]
"""An amount in whole yen that may be negative (a loss)."""

IncomeYear = Annotated[int, Field(strict=True, ge=1990, le=2100)]
"""A calendar year (所得年: 1 January – 31 December)."""


class SpouseDeductionClass(LabelledEnum):
    """控除対象配偶者の区分."""

    NONE = "none", "なし"
    GENERAL = "general", "一般の控除対象配偶者"
    ELDERLY = "elderly", "老人控除対象配偶者"  # 70歳以上


class DisabilityClass(LabelledEnum):
    """本人障害者区分."""

    NONE = "none", "該当なし"
    DISABLED = "disabled", "障害者"
    SPECIALLY_DISABLED = "specially_disabled", "特別障害者"


class WidowClass(LabelledEnum):
    """本人寡婦区分 (ひとり親 is its own flag since 令和2年度 tax reform)."""

    NONE = "none", "該当なし"
    WIDOW = "widow", "寡婦"


class _IncomeFigures(Event):
    """The income figures both contracts share, field by field with the assessment's names."""

    atena_number: AtenaNumber = Field(description="宛名番号")
    tax_year: IncomeYear = Field(description="課税年度 (= 所得年 + 1)")
    income_year: IncomeYear = Field(description="所得年 (the calendar year the income was earned)")
    assessed_on: date = Field(description="賦課決定日・更正日 (assessment or correction date)")
    correction_seq: int = Field(
        strict=True, ge=0, le=9999, description="更正連番 (0 = 当初賦課; each 更正 is higher than the last)"
    )

    general_dependants: Count = Field(description="一般扶養数 (一般の扶養親族の数)")
    elderly_dependants: Count = Field(description="老人扶養数 (老人扶養親族の数)")
    specified_dependants: Count = Field(description="特定扶養数 (特定扶養親族の数)")
    spouse_deduction: SpouseDeductionClass = Field(description="控除対象配偶者 (区分)")
    disabled_dependants: Count = Field(description="障害者扶養数 (障害者である扶養親族等の数)")
    specially_disabled_dependants: Count = Field(description="特別障害者扶養数 (特別障害者である扶養親族等の数)")
    young_dependants: Count = Field(description="年少扶養数 (16歳未満の扶養親族の数)")
    general_dependants_aged_16_to_18: Count | None = Field(
        default=None,
        description=(
            "一般扶養数のうち16歳以上19歳未満の控除対象扶養親族の数 (年齢は所得年の12月31日現在; 免除等の"
            "扶養親族等控除額では特定扶養親族等として控除, 国民年金法施行令6条の9ほか). 省略 (null): "
            "税システムが区別していない (16〜18歳の扶養親族の数は不明)"
        ),
    )
    disability_class: DisabilityClass = Field(description="本人障害者区分")
    widow_class: WidowClass = Field(description="本人寡婦区分")
    working_student: bool = Field(description="本人勤労学生区分 (勤労学生である)")
    single_parent: bool = Field(description="ひとり親 (本人がひとり親である)")
    tax_exempt: bool = Field(description="非課税 (住民税が非課税である)")

    public_pension_misc_income: Yen = Field(description="公的年金等雑所得 (円)")
    total_income: SignedYen = Field(description="合計所得金額 (円; 損失のときは負)")
    net_loss: Yen = Field(description="純損失 (繰越控除額, 円)")
    casualty_loss_deduction: Yen = Field(description="雑損控除 (円)")
    medical_expense_deduction: Yen = Field(description="医療費控除 (円)")
    social_insurance_deduction: Yen = Field(description="社会保険料控除 (円)")
    spouse_special_deduction: Yen = Field(description="配偶者特別控除 (円)")
    small_business_mutual_aid_deduction: Yen = Field(description="小規模企業共済等掛金控除 (円)")

    @model_validator(mode="after")
    def _tax_year_follows_income_year(self) -> Self:
        if self.tax_year != self.income_year + 1:
            raise ValueError("課税年度は所得年の翌年です (tax_year must be income_year + 1)")
        return self

    @model_validator(mode="after")
    def _aged_16_to_18_are_general_dependants(self) -> Self:
        # 16〜18歳 are 一般の控除対象扶養親族 in the tax record: a part of 一般扶養数, never more than it.
        aged_16_to_18 = self.general_dependants_aged_16_to_18
        if aged_16_to_18 is not None and aged_16_to_18 > self.general_dependants:
            raise ValueError(
                "16〜18歳の扶養親族の数は一般扶養数以下です "
                "(general_dependants_aged_16_to_18 must not exceed general_dependants)"
            )
        return self


class IncomeAssessed(_IncomeFigures):
    """所得情報 as assessed: one 個人住民税 assessment's income part, or a correction (更正) of it.

    A correction repeats the whole assessment with a higher ``correction_seq``; the latest one is the
    person's income for that year. ``effective_date`` is the assessment (or correction) date.
    """

    event_type: ClassVar[str] = "jp.kokunen.tax.income-assessed.v1"

    public_pension_income: Yen = Field(description="公的年金収入 (公的年金等の収入金額, 円)")


class IncomeDeterminationKind(LabelledEnum):
    """所得の確定・訂正の別."""

    DETERMINED = "determined", "確定"  # first figure for this person and income year
    CORRECTED = "corrected", "訂正"  # 更正: replaces the figure named in supersedes_event_id


class IncomeDetermined(_IncomeFigures):
    """所得確定: a person's income for one income year as exemption screening uses it.

    ``kind`` is ``corrected`` when an earlier figure for the same person and year changed; it then names
    that figure's event in ``supersedes_event_id`` so that screening decided on it can be redone.
    ``person_verified`` is false while the 宛名番号 is not (yet) known from the resident record.
    """

    event_type: ClassVar[str] = "jp.kokunen.tax.income-determined.v1"

    kind: IncomeDeterminationKind = Field(description="確定・訂正の別")
    supersedes_event_id: uuid.UUID | None = Field(default=None, description="訂正対象のイベントID (前の所得確定)")
    person_verified: bool = Field(description="宛名確認済み (住民記録に宛名番号がある)")

    @model_validator(mode="after")
    def _correction_names_what_it_supersedes(self) -> Self:
        if (self.kind is IncomeDeterminationKind.CORRECTED) != (self.supersedes_event_id is not None):
            raise ValueError("supersedes_event_id is required for a correction and only for it")
        return self
