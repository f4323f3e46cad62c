"""Categories of insured persons (被保険者の種別): 国民年金法7条1項 and 附則5条.

Enum values are the stable codes already used on the wire (``kokunen_contracts.eligibility``) and in the
``eligibility`` schema, so adapters convert by value and member names read like the brief (CATEGORY_1 …).
"""

from __future__ import annotations

from enum import StrEnum


class InsuredCategory(StrEnum):
    """被保険者種別 (category of insured person)."""

    CATEGORY_1 = "category_1"  # 第1号被保険者 (7条1項1号)
    CATEGORY_2 = "category_2"  # 第2号被保険者 (7条1項2号): 厚生年金保険の被保険者
    CATEGORY_3 = "category_3"  # 第3号被保険者 (7条1項3号): 第2号の被扶養配偶者
    VOLUNTARY = "voluntary"  # 任意加入被保険者 (附則5条)

    @property
    def label_ja(self) -> str:
        return _CATEGORY_LABELS[self]

    @property
    def is_compulsory(self) -> bool:
        """強制加入被保険者: the three categories of 7条; 任意加入 rests on the person's 申出."""
        return self is not InsuredCategory.VOLUNTARY


_CATEGORY_LABELS: dict[InsuredCategory, str] = {
    InsuredCategory.CATEGORY_1: "第1号被保険者",
    InsuredCategory.CATEGORY_2: "第2号被保険者",
    InsuredCategory.CATEGORY_3: "第3号被保険者",
    InsuredCategory.VOLUNTARY: "任意加入被保険者",
}


class OtherCategoryStatus(StrEnum):
    """Whether the person is 第2号 or 第3号 (第2号・第3号該当の有無), as far as the city knows.

    The resident record does not say: whether someone is a 厚生年金 insured or the dependent spouse of one
    comes from JPS data or from filings (種別変更届, 資格取得届). Until one of them says, the state is
    explicitly UNKNOWN rather than assumed NONE, so that a later answer is a fact learned, not a correction.
    """

    UNKNOWN = "unknown"  # 不明: no JPS data or filing yet
    NONE = "none"  # 第2号・第3号のいずれにも該当しない
    CATEGORY_2 = "category_2"  # 第2号被保険者に該当
    CATEGORY_3 = "category_3"  # 第3号被保険者に該当

    @property
    def label_ja(self) -> str:
        return _OTHER_CATEGORY_LABELS[self]

    @property
    def rules_out_category_1(self) -> bool:
        """7条1項1号: only a known 第2号/第3号 rules out category 1; UNKNOWN does not (see qualification)."""
        return self in (OtherCategoryStatus.CATEGORY_2, OtherCategoryStatus.CATEGORY_3)

    @property
    def insured_category(self) -> InsuredCategory | None:
        """The category this status names, if it names one."""
        return _OTHER_AS_CATEGORY.get(self)


_OTHER_CATEGORY_LABELS: dict[OtherCategoryStatus, str] = {
    OtherCategoryStatus.UNKNOWN: "不明",
    OtherCategoryStatus.NONE: "第2号・第3号に該当しない",
    OtherCategoryStatus.CATEGORY_2: "第2号被保険者",
    OtherCategoryStatus.CATEGORY_3: "第3号被保険者",
}

_OTHER_AS_CATEGORY: dict[OtherCategoryStatus, InsuredCategory] = {
    OtherCategoryStatus.CATEGORY_2: InsuredCategory.CATEGORY_2,
    OtherCategoryStatus.CATEGORY_3: InsuredCategory.CATEGORY_3,
}
