"""JPS's decision (承認・却下) on a reported exemption application, and the 免除等の区分 it puts in force. Pure.

The city receives the application, screens the income (所得審査) and reports it (進達); the approval — 免除
(国民年金法90条1項, 90条の2), 納付猶予 (平成26年法律64号附則14条), 学生納付特例 (90条の3) — is the Minister's
(厚生労働大臣), decided by 日本年金機構, which tells the city on the 処理結果一覧表 (docs/domain.md §3, §6: "the
municipality screens and reports; JPS decides"; the seed's 提供1 names the recipient "厚生労働大臣 (JPS)"). The
explanation cites the article the tier is approved under (``APPROVAL_ARTICLES``), not the delegation:
国民年金法109条の4 (機構への権限に係る事務の委任) is not in the domain reference, and whether an exemption approval
is among its items is [unconfirmed]. So the person's status for the application's months follows that decision:

- 承認 naming a 承認区分: that tier (JPS may approve a more lenient tier than the one the city found);
- 承認 naming none: the tier the city reported (the screening in force when the result arrives);
- 却下: no exemption — the months are months to pay (88条1項), whatever the city's screening found.

A result without a decision (a list without the 審査結果 column) is read as before: processed after a passed
screening counts as approved at the screened tier [unconfirmed]; ``TIER_IN_FORCE`` in repository.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from ..domain.months import YearMonth
from .screening import Tier


class Decision(StrEnum):
    """日本年金機構の決定 (values of the contract's JpsDecision)."""

    APPROVED = "approved"  # 承認
    REJECTED = "rejected"  # 却下


APPROVAL_ARTICLES = {
    Tier.FULL: "国民年金法90条1項",
    Tier.THREE_QUARTERS: "国民年金法90条の2第1項",
    Tier.HALF: "国民年金法90条の2第2項",
    Tier.QUARTER: "国民年金法90条の2第3項",
    Tier.PAYMENT_DEFERRAL: "平成26年法律64号附則14条1項",
    Tier.STUDENT_DEFERRAL: "国民年金法90条の3第1項",
}
"""The article under which each tier is approved (the paragraph: an approval may rest on any of its items — the
income test the city screened, or another ground such as 失業等 — so ``Tier.article``'s item is not cited)."""


@dataclass(frozen=True)
class DecisionInForce:
    tier: Tier | None
    """The 免除等の区分 in force for the application's months (None: none)."""
    explanation: str
    """For staff: what JPS decided and what it means for the months."""


def decision_in_force(
    decision: Decision,
    *,
    approved_tier: Tier | None,
    screened_tier: Tier | None,
    kind_label: str,
    first_month: YearMonth,
    last_month: YearMonth,
    decided_on: date | None,
) -> DecisionInForce:
    """What JPS's decision on one application puts in force for its months (see the module's rules)."""
    when = f"（{decided_on.isoformat()}処理）" if decided_on else ""
    months = f"{first_month}〜{last_month}"
    city = f"市の所得審査: {screened_tier.label_ja}に該当" if screened_tier else "市の所得審査: 該当なし"
    if decision is Decision.REJECTED:
        return DecisionInForce(
            None,
            f"日本年金機構が{kind_label}を却下{when}: {months} に免除等はなく、保険料を納付する月です"
            f"（国民年金法88条1項）。{city}。",
        )
    tier = approved_tier or screened_tier
    if tier is None:
        return DecisionInForce(
            None,
            f"日本年金機構が{kind_label}を承認{when}したが、承認区分が一覧表になく市の審査でも該当がありません: "
            "区分を日本年金機構に確認してください。",
        )
    named = "承認区分のとおり" if approved_tier else "進達した区分のとおり"
    return DecisionInForce(
        tier,
        f"日本年金機構が{kind_label}を承認{when}: {months} は{tier.label_ja}（{named}; {APPROVAL_ARTICLES[tier]}。"
        f"承認は厚生労働大臣の処分で、日本年金機構が決定）。{city}。",
    )
