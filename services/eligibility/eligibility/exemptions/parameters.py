"""Dated tables of exemption screening (免除等の所得基準) and premiums (保険料額).

Every amount the screening or the premium rules read lives here, with the days it is in force and its
source. The income limits are looked up on the first day of the **month being judged** (a July 2021 month
uses the new constants, a June 2021 month the old ones), never on the day of the application. A source
marked **[unconfirmed]** comes from practice or inference and may be corrected here without touching the
rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final

from ..domain.parameters import Dated, DatedTable


@dataclass(frozen=True)
class IncomeLimits:
    """The constants of the income limits (所得基準の定額部分), per tier.

    全額免除 and 納付猶予: (扶養親族等の数 + 1) × ``full_per_person`` + ``full_constant``.
    Partial tiers and 学生納付特例: constant + 扶養親族等控除額 + 社会保険料控除額等.
    """

    full_per_person: int
    full_constant: int
    three_quarters_constant: int
    half_constant: int
    quarter_constant: int


EXEMPTION_INCOME_LIMITS: Final = DatedTable[IncomeLimits](
    "申請免除・納付猶予の所得基準 (国民年金法90条・90条の2, 施行令6条の7ほか)",
    (
        Dated(
            IncomeLimits(350_000, 220_000, 780_000, 1_180_000, 1_580_000),
            valid_from=date(2006, 7, 1),
            valid_to=date(2021, 6, 30),
            source="施行令6条の7ほか (令和2年政令改正前); start date of this entry [unconfirmed]",
        ),
        Dated(
            IncomeLimits(350_000, 320_000, 880_000, 1_280_000, 1_680_000),
            valid_from=date(2021, 7, 1),
            source="施行令6条の7ほか (令和3年7月分以降: 給与所得控除等の10万円引下げに合わせた10万円引上げ)",
        ),
    ),
)

STUDENT_DEFERRAL_CONSTANT: Final = DatedTable[int](
    "学生納付特例の所得基準の定額 (国民年金法90条の3)",
    (
        Dated(1_180_000, valid_from=date(2000, 4, 1), valid_to=date(2021, 3, 31), source="90条の3 (令和3年3月分まで)"),
        Dated(1_280_000, valid_from=date(2021, 4, 1), source="90条の3 (令和3年4月分以降)"),
    ),
)

SPECIAL_PERSONS_LIMIT: Final = DatedTable[int](
    "障害者・寡婦・ひとり親の所得基準 (国民年金法90条1項3号, 地方税法295条1項2号の額)",
    (
        Dated(1_250_000, valid_from=date(2006, 7, 1), valid_to=date(2021, 6, 30), source="[unconfirmed] start"),
        Dated(1_350_000, valid_from=date(2021, 7, 1), source="地方税法295条1項2号 (令和3年度以降 135万円)"),
    ),
)


@dataclass(frozen=True)
class DependantDeductions:
    """扶養親族等控除額 per person, by type (partial tiers and 学生納付特例)."""

    general: int  # 一般の扶養親族・控除対象配偶者 (and 年少扶養: [unconfirmed], see below)
    elderly: int  # 老人扶養親族・老人控除対象配偶者 (70歳以上の同一生計配偶者)
    specified: int  # 特定扶養親族 (19歳以上23歳未満)
    aged_16_to_18: int  # 控除対象扶養親族のうち19歳未満 (16〜18歳): with 特定扶養親族, 「特定扶養親族等」
    young: int  # 年少扶養親族 (16歳未満)


DEPENDANT_DEDUCTIONS: Final = DatedTable[DependantDeductions](
    "扶養親族等控除額 (国民年金法90条の2・90条の3の政令で定める額: 施行令6条の9ほか)",
    (
        Dated(
            DependantDeductions(
                general=380_000, elderly=480_000, specified=630_000, aged_16_to_18=630_000, young=380_000
            ),
            valid_from=date(2006, 7, 1),
            # 16–18-year-olds are read at 63万円 when the tax record counts them (general_dependants_aged_16_to_18
            # on tax.income-determined.v1); an older record leaves them among the general ones, and the
            # explanation says so. 年少扶養 counted at the general amount [unconfirmed].
            source=(
                "施行令6条の9ほか: 1人38万円, 老人控除対象配偶者・老人扶養親族48万円, 特定扶養親族等 (特定扶養親族"
                "・19歳未満の控除対象扶養親族) 63万円 (JPS 免除基準の説明も同じ); 年少扶養の額 [unconfirmed]"
            ),
        ),
    ),
)


@dataclass(frozen=True)
class PersonalDeductions:
    """The deductions of 社会保険料控除額等 the tax record gives as flags and counts, not amounts (住民税額)."""

    disabled: int  # 障害者控除 (本人・扶養親族 1人につき)
    specially_disabled: int  # 特別障害者控除
    widow: int  # 寡婦控除
    single_parent: int  # ひとり親控除
    working_student: int  # 勤労学生控除


PERSONAL_DEDUCTIONS: Final = DatedTable[PersonalDeductions](
    "社会保険料控除額等のうち人的控除の額 (住民税: 地方税法314条の2) — keyed by the income year's 1 January",
    (
        Dated(
            PersonalDeductions(260_000, 300_000, 260_000, 300_000, 260_000),
            valid_from=date(2020, 1, 1),
            source="地方税法314条の2 (令和3年度以降; 同居特別障害者の加算は所得情報にないため含めない [unconfirmed])",
        ),
        Dated(
            # Before ひとり親控除 (令和2年度税制改正) a single parent had 寡婦(夫)控除: read at the 寡婦 amount.
            PersonalDeductions(260_000, 300_000, 260_000, 260_000, 260_000),
            valid_from=date(2000, 1, 1),
            valid_to=date(2019, 12, 31),
            source="地方税法314条の2 (令和2年度まで) [unconfirmed]",
        ),
    ),
)

# [unconfirmed] (domain brief §3): whether 全額免除 and 納付猶予 compare the income *before* 社会保険料控除額等.
# The published formula ((扶養親族等の数 + 1) × 35万円 + 32万円) names no deduction, so by default the income
# is compared as it stands; set False to compare the income after subtracting 社会保険料控除額等.
FULL_EXEMPTION_COMPARES_INCOME_BEFORE_DEDUCTIONS: Final = True

PAYMENT_DEFERRAL_AGE_LIMIT: Final = DatedTable[int](
    "納付猶予の年齢 (この年齢に達する日の属する月の前月まで)",
    (
        Dated(30, valid_from=date(2005, 4, 1), valid_to=date(2016, 6, 30), source="平成16年法律104号附則19条"),
        Dated(50, valid_from=date(2016, 7, 1), valid_to=date(2030, 6, 30), source="平成26年法律64号附則14条"),
    ),
)

MONTHLY_PREMIUM_YEN: Final = DatedTable[int](
    "国民年金保険料の月額 (国民年金法87条3項: 改定率による額, 年度ごと)",
    (
        Dated(16_410, valid_from=date(2019, 4, 1), valid_to=date(2020, 3, 31), source="令和元年度"),
        Dated(16_540, valid_from=date(2020, 4, 1), valid_to=date(2021, 3, 31), source="令和2年度"),
        Dated(16_610, valid_from=date(2021, 4, 1), valid_to=date(2022, 3, 31), source="令和3年度"),
        Dated(16_590, valid_from=date(2022, 4, 1), valid_to=date(2023, 3, 31), source="令和4年度"),
        Dated(16_520, valid_from=date(2023, 4, 1), valid_to=date(2024, 3, 31), source="令和5年度"),
        Dated(16_980, valid_from=date(2024, 4, 1), valid_to=date(2025, 3, 31), source="令和6年度"),
        Dated(17_510, valid_from=date(2025, 4, 1), valid_to=date(2026, 3, 31), source="令和7年度"),
        Dated(17_920, valid_from=date(2026, 4, 1), valid_to=date(2027, 3, 31), source="令和8年度"),
    ),
)

PRE_POSTNATAL_EXEMPTION_IN_FORCE: Final = DatedTable[bool](
    "産前産後期間の保険料免除 (国民年金法88条の2) の施行",
    (Dated(True, valid_from=date(2019, 4, 1), source="平成28年法律114号 (平成31年4月1日施行): 2019-04分から"),),
)
