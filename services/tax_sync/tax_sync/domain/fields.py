"""The fields of an income assessment, in the order of the annual file and of the staging rows.

Each field has its contract name, its name in the assessment (＜所得情報＞, seed 別添2), and its kind —
what a valid value looks like. The annual file writes coded values (区分コード) where the contract has
words; ``CODES`` maps them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    ATENA = "atena"  # 宛名番号: 1–15 ASCII digits
    YEAR = "year"  # a calendar year
    DATE = "date"  # YYYY-MM-DD
    SEQ = "seq"  # 更正連番: 0–9999
    COUNT = "count"  # a number of persons: 0–99
    OPTIONAL_COUNT = "optional_count"  # a number of persons 0–99, or empty: the producer does not give it
    YEN = "yen"  # whole yen, ≥ 0
    SIGNED_YEN = "signed_yen"  # whole yen, may be negative
    FLAG = "flag"  # 0 / 1
    CODE = "code"  # a 区分コード (see CODES)


@dataclass(frozen=True)
class AssessmentField:
    name: str
    japanese: str
    kind: Kind


F = AssessmentField
FIELDS: tuple[AssessmentField, ...] = (
    F("atena_number", "宛名番号", Kind.ATENA),
    F("tax_year", "課税年度", Kind.YEAR),
    F("income_year", "所得年", Kind.YEAR),
    F("assessed_on", "賦課決定日", Kind.DATE),
    F("correction_seq", "更正連番", Kind.SEQ),
    F("general_dependants", "一般扶養数", Kind.COUNT),
    F("elderly_dependants", "老人扶養数", Kind.COUNT),
    F("specified_dependants", "特定扶養数", Kind.COUNT),
    F("spouse_deduction", "控除対象配偶者", Kind.CODE),
    F("disabled_dependants", "障害者扶養数", Kind.COUNT),
    F("specially_disabled_dependants", "特別障害者扶養数", Kind.COUNT),
    F("young_dependants", "年少扶養数", Kind.COUNT),
    F("disability_class", "本人障害者区分", Kind.CODE),
    F("widow_class", "本人寡婦区分", Kind.CODE),
    F("working_student", "本人勤労学生区分", Kind.FLAG),
    F("single_parent", "ひとり親", Kind.FLAG),
    F("tax_exempt", "非課税", Kind.FLAG),
    F("public_pension_income", "公的年金収入", Kind.YEN),
    F("public_pension_misc_income", "公的年金等雑所得", Kind.YEN),
    F("total_income", "合計所得金額", Kind.SIGNED_YEN),
    F("net_loss", "純損失", Kind.YEN),
    F("casualty_loss_deduction", "雑損控除", Kind.YEN),
    F("medical_expense_deduction", "医療費控除", Kind.YEN),
    F("social_insurance_deduction", "社会保険料控除", Kind.YEN),
    F("spouse_special_deduction", "配偶者特別控除", Kind.YEN),
    F("small_business_mutual_aid_deduction", "小規模企業共済等掛金控除", Kind.YEN),
    # Added later, optional: files written to the older layout (without this column) are still read.
    F("general_dependants_aged_16_to_18", "一般扶養数のうち16歳以上19歳未満", Kind.OPTIONAL_COUNT),
)
NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)
JAPANESE: tuple[str, ...] = tuple(f.japanese for f in FIELDS)
INDEX: dict[str, int] = {f.name: i for i, f in enumerate(FIELDS)}

LAYOUT_COLUMNS: tuple[int, ...] = (len(FIELDS), len(FIELDS) - 1)
"""The annual file's layouts by their number of columns: every field, or the older one without the last
(16〜18歳の扶養親族の数, then unknown). The header line says which one a file uses."""

CODES: dict[str, dict[str, str]] = {
    # 控除対象配偶者: 0 なし, 1 一般, 2 老人控除対象配偶者
    "spouse_deduction": {"0": "none", "1": "general", "2": "elderly"},
    # 本人障害者区分: 0 該当なし, 1 障害者, 2 特別障害者
    "disability_class": {"0": "none", "1": "disabled", "2": "specially_disabled"},
    # 本人寡婦区分: 0 該当なし, 1 寡婦
    "widow_class": {"0": "none", "1": "widow"},
}
CODE_OF: dict[str, dict[str, str]] = {name: {v: k for k, v in codes.items()} for name, codes in CODES.items()}

MAX_COUNT = 99
MAX_YEN = 999_999_999_999
MAX_SEQ = 9999
