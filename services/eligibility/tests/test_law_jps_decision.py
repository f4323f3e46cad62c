"""JPS's decision (承認・却下) on an exemption application and the tier it puts in force: worked examples.

The city screened 全額免除 for 2026-07〜2027-06 in each case; what the person has for those months then follows
JPS's decision (国民年金法90条1項・90条の2: the Minister's approval, decided by 日本年金機構), not the city's
screening.
"""

from __future__ import annotations

from datetime import date

import pytest
from eligibility.domain.months import YearMonth
from eligibility.exemptions.jps_decision import Decision, DecisionInForce, decision_in_force
from eligibility.exemptions.screening import Tier

FIRST, LAST = YearMonth(2026, 7), YearMonth(2027, 6)


def decide(decision: Decision, approved: Tier | None, screened: Tier | None) -> DecisionInForce:
    return decision_in_force(
        decision,
        approved_tier=approved,
        screened_tier=screened,
        kind_label="申請免除",
        first_month=FIRST,
        last_month=LAST,
        decided_on=date(2026, 8, 20),
    )


@pytest.mark.parametrize(
    ("decision", "approved", "screened", "in_force"),
    [
        (Decision.APPROVED, None, Tier.FULL, Tier.FULL),  # 承認, no 承認区分: the tier the city reported
        (Decision.APPROVED, Tier.HALF, Tier.FULL, Tier.HALF),  # JPS approved a more lenient tier than screened
        (Decision.APPROVED, Tier.QUARTER, None, Tier.QUARTER),  # JPS approved what the city found no tier for
        (Decision.REJECTED, None, Tier.FULL, None),  # 却下: no exemption, whatever the screening found
        (Decision.APPROVED, None, None, None),  # 承認 without a tier anyone can name: staff ask JPS
    ],
)
def test_the_tier_in_force_follows_jps_s_decision(
    decision: Decision, approved: Tier | None, screened: Tier | None, in_force: Tier | None
) -> None:
    assert decide(decision, approved, screened).tier is in_force


def test_a_rejection_explains_that_the_months_are_months_to_pay() -> None:
    text = decide(Decision.REJECTED, None, Tier.FULL).explanation
    assert text == (
        "日本年金機構が申請免除を却下（2026-08-20処理）: 2026-07〜2027-06 に免除等はなく、保険料を納付する月です"
        "（国民年金法88条1項）。市の所得審査: 全額免除に該当。"
    )


def test_an_approval_names_the_tier_and_where_it_comes_from() -> None:
    assert decide(Decision.APPROVED, Tier.HALF, Tier.FULL).explanation == (
        "日本年金機構が申請免除を承認（2026-08-20処理）: 2026-07〜2027-06 は半額免除（承認区分のとおり; "
        "国民年金法90条の2第2項。承認は厚生労働大臣の処分で、日本年金機構が決定）。市の所得審査: 全額免除に該当。"
    )
    # No tier named by JPS: the article of the tier the city reported.
    assert (
        "全額免除（進達した区分のとおり; 国民年金法90条1項。" in decide(Decision.APPROVED, None, Tier.FULL).explanation
    )
    assert "区分を日本年金機構に確認" in decide(Decision.APPROVED, None, None).explanation
