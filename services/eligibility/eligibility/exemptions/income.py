"""The income a screening reads (前年所得) and the deductions it adds to a limit, from one tax record.

Figures are those of ``tax.income-determined.v1`` (住民税の所得情報), kept per person and income year.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from .parameters import DEPENDANT_DEDUCTIONS, PERSONAL_DEDUCTIONS


class SpouseDeduction(StrEnum):
    """控除対象配偶者の区分 (values of the tax contract)."""

    NONE = "none"
    GENERAL = "general"  # 一般の控除対象配偶者
    ELDERLY = "elderly"  # 老人控除対象配偶者


class Disability(StrEnum):
    """本人障害者区分."""

    NONE = "none"
    DISABLED = "disabled"
    SPECIALLY_DISABLED = "specially_disabled"


@dataclass(frozen=True)
class IncomeFigures:
    """One person's 所得情報 for one income year (所得年), as the tax system determined it."""

    income_year: int
    total_income: int  # 合計所得金額 (負: 損失)
    net_loss: int = 0  # 純損失の繰越控除額
    general_dependants: int = 0
    elderly_dependants: int = 0
    specified_dependants: int = 0
    young_dependants: int = 0
    # Of the general_dependants, those aged 16–18 (控除対象扶養親族で19歳未満); None: the tax record does not say.
    general_dependants_aged_16_to_18: int | None = None
    spouse_deduction: SpouseDeduction = SpouseDeduction.NONE
    disabled_dependants: int = 0
    specially_disabled_dependants: int = 0
    disability: Disability = Disability.NONE
    widow: bool = False
    single_parent: bool = False
    working_student: bool = False
    casualty_loss_deduction: int = 0  # 雑損控除
    medical_expense_deduction: int = 0  # 医療費控除
    social_insurance_deduction: int = 0  # 社会保険料控除
    small_business_mutual_aid_deduction: int = 0  # 小規模企業共済等掛金控除
    spouse_special_deduction: int = 0  # 配偶者特別控除

    @property
    def income(self) -> int:
        """前年所得 as screening compares it: 合計所得金額 less the carried-forward 純損失 (総所得金額等)."""
        return self.total_income - self.net_loss

    @property
    def dependants_count(self) -> int:
        """扶養親族等の数: 控除対象配偶者 and every 扶養親族, 年少扶養 included (全額免除・納付猶予)."""
        spouse = 0 if self.spouse_deduction is SpouseDeduction.NONE else 1
        return (
            spouse
            + self.general_dependants
            + self.elderly_dependants
            + self.specified_dependants
            + self.young_dependants
        )

    @property
    def is_disabled_widow_or_single_parent(self) -> bool:
        """障害者・寡婦・ひとり親 (国民年金法90条1項3号の対象)."""
        return self.disability is not Disability.NONE or self.widow or self.single_parent


@dataclass(frozen=True)
class DeductionBreakdown:
    """扶養親族等控除額 and 社会保険料控除額等, item by item, for the explanation."""

    dependants: int
    dependants_detail: str
    social_insurance_etc: int
    social_insurance_detail: str


def deductions(figures: IncomeFigures, judged_month_start: date) -> DeductionBreakdown:
    """扶養親族等控除額 (by dependant type, at the amounts in force for the month judged) and
    社会保険料控除額等 (雑損・医療費・社会保険料・小規模企業共済等掛金・配偶者特別控除 as assessed; 障害者・寡婦・
    ひとり親・勤労学生控除 at the 住民税 amounts of the income year)."""
    per = DEPENDANT_DEDUCTIONS.on(judged_month_start)
    elderly_spouse = figures.spouse_deduction is SpouseDeduction.ELDERLY
    general_spouse = figures.spouse_deduction is SpouseDeduction.GENERAL
    aged_16_to_18 = figures.general_dependants_aged_16_to_18 or 0
    parts = [
        ("控除対象配偶者", int(general_spouse), per.general),
        ("老人控除対象配偶者", int(elderly_spouse), per.elderly),
        ("一般扶養", figures.general_dependants - aged_16_to_18, per.general),
        ("16〜18歳の扶養", aged_16_to_18, per.aged_16_to_18),
        ("老人扶養", figures.elderly_dependants, per.elderly),
        ("特定扶養", figures.specified_dependants, per.specified),
        ("年少扶養", figures.young_dependants, per.young),
    ]
    dependants = sum(count * amount for _, count, amount in parts)
    dependants_detail = "、".join(f"{label}{count}人×{amount:,}円" for label, count, amount in parts if count) or "なし"
    if figures.general_dependants and figures.general_dependants_aged_16_to_18 is None:
        # An older producer: 16〜18歳 (63万円 each) cannot be told from the others; staff must know the limit
        # may be too low for this person.
        dependants_detail += (
            f"。所得情報に16〜18歳の扶養親族の数がないため一般扶養は全員{per.general:,}円で計算"
            f"（16〜18歳がいれば1人につき{per.aged_16_to_18:,}円: 要確認）"
        )

    personal = PERSONAL_DEDUCTIONS.on(date(figures.income_year, 1, 1))
    items = [
        ("雑損控除", figures.casualty_loss_deduction),
        ("医療費控除", figures.medical_expense_deduction),
        ("社会保険料控除", figures.social_insurance_deduction),
        ("小規模企業共済等掛金控除", figures.small_business_mutual_aid_deduction),
        ("配偶者特別控除", figures.spouse_special_deduction),
        (
            "障害者控除",
            (personal.disabled if figures.disability is Disability.DISABLED else 0)
            + (personal.specially_disabled if figures.disability is Disability.SPECIALLY_DISABLED else 0)
            + figures.disabled_dependants * personal.disabled
            + figures.specially_disabled_dependants * personal.specially_disabled,
        ),
        # ひとり親 and 寡婦 exclude each other in tax law; the larger one is the one the person has.
        ("ひとり親控除", personal.single_parent if figures.single_parent else 0),
        ("寡婦控除", personal.widow if figures.widow and not figures.single_parent else 0),
        ("勤労学生控除", personal.working_student if figures.working_student else 0),
    ]
    social = sum(amount for _, amount in items)
    social_detail = "、".join(f"{label}{amount:,}円" for label, amount in items if amount) or "なし"
    return DeductionBreakdown(dependants, dependants_detail, social, social_detail)
