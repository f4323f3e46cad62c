"""What a JPS processing result (処理結果一覧表の突合結果) asks of the city.

JPS keeps the 国民年金原簿 (国民年金法14条) and assigns the 基礎年金番号; the city reports what it received
(進達, 施行令1条の2) and gets back how each report was processed. Pure: given one reconciled line and the
基礎年金番号 eligibility already keeps, say whether staff must follow it up (and why) and whether the number
JPS used can be taken into ＜年金基本＞.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Reconciliation(StrEnum):
    """突合結果 (values of the transfer.jps-processing-result contract)."""

    MATCHED = "matched"
    MISMATCHED = "mismatched"
    MISSING = "missing"
    UNEXPECTED = "unexpected"


class JpsOutcome(StrEnum):
    """日本年金機構の処理結果."""

    PROCESSED = "processed"
    RETURNED = "returned"
    PENDING = "pending"
    NONE = "none"


class FollowUp(StrEnum):
    """要対応の理由 (a work item for the 国保年金課 staff)."""

    RETURNED = "returned"  # 返戻: correct and report again
    MISMATCHED = "mismatched"  # 不一致: what JPS recorded differs from what was sent
    NOT_PROCESSED = "not_processed"  # 送付したが一覧表にない: ask JPS
    NOT_SENT = "not_sent"  # 送付していないものが載っている: ask JPS
    PENSION_NUMBER_DIFFERS = "pension_number_differs"  # 基礎年金番号の相違: never overwritten silently
    # Not from a JPS result (kept in eligibility.follow_up; eligibility.open_follow_up shows both):
    EXEMPTION_SCREENING_CHANGED = "exemption_screening_changed"  # 所得の確定・更正で免除等の審査結果が変わった
    CLAIMS_ON_DEATH = "claims_on_death"  # 第1号被保険者の死亡: 遺族が請求できる給付の確認


@dataclass(frozen=True)
class ResultDecision:
    follow_up: FollowUp | None
    take_pension_number: str | None  # set when ＜年金基本＞ lacks it and JPS processed the report as sent


def decide(
    reconciliation: Reconciliation,
    outcome: JpsOutcome,
    jps_pension_number: str | None,
    kept_pension_number: str | None,
) -> ResultDecision:
    """Follow-up and 基礎年金番号 for one line; a pending (保留) line waits for a later list."""
    follow_up = {
        Reconciliation.MISMATCHED: FollowUp.MISMATCHED,
        Reconciliation.MISSING: FollowUp.NOT_PROCESSED,
        Reconciliation.UNEXPECTED: FollowUp.NOT_SENT,
    }.get(reconciliation)
    if follow_up is None and outcome is JpsOutcome.RETURNED:
        follow_up = FollowUp.RETURNED
    processed_as_sent = reconciliation is Reconciliation.MATCHED and outcome is JpsOutcome.PROCESSED
    take = None
    if processed_as_sent and jps_pension_number is not None:
        if kept_pension_number is None:
            take = jps_pension_number
        elif kept_pension_number != jps_pension_number:
            follow_up = FollowUp.PENSION_NUMBER_DIFFERS
    return ResultDecision(follow_up, take)
