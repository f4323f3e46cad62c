"""What a reconciled JPS processing-result line asks of the city (処理結果一覧表の突合結果)."""

from __future__ import annotations

import pytest
from eligibility.domain.jps_results import FollowUp, JpsOutcome, Reconciliation, decide

R, JO, F = Reconciliation, JpsOutcome, FollowUp
N1, N2 = "1234-567890", "9876-543210"


@pytest.mark.parametrize(
    ("reconciliation", "outcome", "jps_number", "kept_number", "follow_up", "taken"),
    [
        # processed as sent: nothing to do; JPS's 基礎年金番号 fills an empty ＜年金基本＞
        (R.MATCHED, JO.PROCESSED, N1, None, None, N1),
        (R.MATCHED, JO.PROCESSED, N1, N1, None, None),
        (R.MATCHED, JO.PROCESSED, None, None, None, None),
        # a different number than the one kept is never overwritten: staff look at it
        (R.MATCHED, JO.PROCESSED, N2, N1, F.PENSION_NUMBER_DIFFERS, None),
        # 返戻: correct and report again; 保留: wait for a later list
        (R.MATCHED, JO.RETURNED, N1, None, F.RETURNED, None),
        (R.MATCHED, JO.PENDING, N1, None, None, None),
        # what JPS recorded differs from what was sent: nothing is taken from it
        (R.MISMATCHED, JO.PROCESSED, N1, None, F.MISMATCHED, None),
        (R.MISMATCHED, JO.RETURNED, N1, None, F.MISMATCHED, None),
        # sent but not on the list / on the list but never sent: ask JPS
        (R.MISSING, JO.NONE, None, None, F.NOT_PROCESSED, None),
        (R.UNEXPECTED, JO.PROCESSED, N1, None, F.NOT_SENT, None),
    ],
)
def test_each_reconciled_line_says_what_staff_must_do(
    reconciliation: Reconciliation,
    outcome: JpsOutcome,
    jps_number: str | None,
    kept_number: str | None,
    follow_up: FollowUp | None,
    taken: str | None,
) -> None:
    decision = decide(reconciliation, outcome, jps_number, kept_number)
    assert (decision.follow_up, decision.take_pension_number) == (follow_up, taken)


def test_the_rule_knows_every_value_of_the_contract() -> None:
    from kokunen_contracts import jps

    assert {r.value for r in jps.Reconciliation} == {r.value for r in Reconciliation}
    assert {o.value for o in jps.JpsOutcome} == {o.value for o in JpsOutcome}
