"""受付 and answers in the counter's schema: written by the submission and answer handlers, read by the 受付処理簿
and the 開示請求 export (counter/adapters/records.py)."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

import asyncpg
from kokunen_contracts.counter import (
    BenefitClaimSubmitted,
    ExemptionApplicationSubmitted,
    ExemptionNotificationSubmitted,
    FilingSubmitted,
)
from kokunen_contracts.eligibility import BenefitClaimReceived, ExemptionNotificationOutcome, ExemptionScreened
from kokunen_contracts.eligibility import ScreeningOutcome as Screening

from ..domain.reception import Outcome, Source

Submission = FilingSubmitted | ExemptionApplicationSubmitted | ExemptionNotificationSubmitted | BenefitClaimSubmitted
Answer = ExemptionScreened | ExemptionNotificationOutcome | BenefitClaimReceived

_LATEST_ANSWER = """LEFT JOIN LATERAL (
        SELECT outcome, explanation, recorded_at AS decided_at FROM (
            SELECT CASE f.outcome WHEN 'accepted' THEN 'accepted' WHEN 'rejected' THEN 'refused' ELSE 'pending' END
                       AS outcome,
                   f.message || coalesce(' (' || f.rule || ')', '') AS explanation, f.recorded_at
            FROM counter.filing_outcome f WHERE f.filing_id = ids.receipt_id
            UNION ALL
            SELECT d.outcome, d.result || coalesce(': ' || nullif(d.summary, ''), ''), d.recorded_at
            FROM counter.decision d WHERE d.receipt_id = ids.receipt_id) answers
        ORDER BY recorded_at DESC LIMIT 1) answer ON true"""
"""Each reception's latest answer, whichever topic it came on, as accepted / pending / refused with its words."""


def _receipt(event: Submission) -> tuple[Source, uuid.UUID]:
    match event:
        case FilingSubmitted():
            return Source.FILING, event.filing_id
        case ExemptionApplicationSubmitted():
            return Source.EXEMPTION_APPLICATION, event.application_id
        case ExemptionNotificationSubmitted():
            return Source.EXEMPTION_NOTIFICATION, event.notification_id
        case BenefitClaimSubmitted():
            return Source.BENEFIT_CLAIM, event.claim_id


def _refusals(items: list[Any]) -> list[str]:
    return [f"{r.message} ({r.rule})" for r in items]


def answer_row(event: Answer) -> dict[str, Any]:
    """What the counter keeps of an answer: the reception's fate (accepted / refused), the result in words, an
    explanation from the rules and articles it names, and its facts (for the 開示請求 export)."""
    match event:
        case ExemptionScreened():
            refused = event.outcome is Screening.REFUSED
            result = event.outcome.label + (f" ({event.decision.label})" if event.decision else "")
            summary = "; ".join(_refusals(event.refusals))
            detail = event.model_dump(
                mode="json", include={"decision", "first_month", "last_month", "income_year", "refusals", "checks"}
            )
            return {"receipt_id": event.application_id, "source": Source.EXEMPTION_APPLICATION, "refused": refused,
                    "result": result, "summary": summary, "detail": detail,
                    "replaces": event.replaces_event_id}  # fmt: skip
        case ExemptionNotificationOutcome():
            refused = not event.accepted
            summary = "; ".join(_refusals(event.refusals)) or (event.article or "")
            detail = event.model_dump(mode="json", include={"first_month", "last_month", "article", "refusals"})
            return {"receipt_id": event.notification_id, "source": Source.EXEMPTION_NOTIFICATION, "refused": refused,
                    "result": "不受理" if refused else "受理", "summary": summary, "detail": detail,
                    "replaces": None}  # fmt: skip
        case BenefitClaimReceived():
            refused = not event.received
            summary = "; ".join(_refusals(event.refusals)) or (
                f"年金コード {event.pension_code}" if event.pension_code else ""
            )
            detail = event.model_dump(mode="json", include={"pension_code", "refusals"})
            return {"receipt_id": event.claim_id, "source": Source.BENEFIT_CLAIM, "refused": refused,
                    "result": "不受理" if refused else "受付", "summary": summary, "detail": detail,
                    "replaces": None}  # fmt: skip


class Receptions:
    """counter.reception and counter.decision."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def received(self, event: Submission) -> None:
        source, receipt_id = _receipt(event)
        await self.conn.execute(
            """INSERT INTO counter.reception (receipt_id, source, kind, atena_number, received_on, department,
                   staff_id, event_id, recorded_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (receipt_id) DO NOTHING""",
            receipt_id,
            source.value,
            event.kind.value,
            event.atena_number,
            event.received_on,
            event.department,
            event.staff_id,
            event.event_id,
            event.recorded_at,
        )

    async def answered(self, event: Answer) -> None:
        row = answer_row(event)
        await self.conn.execute(
            """INSERT INTO counter.decision (event_id, receipt_id, source, kind, atena_number, outcome, result,
                   summary, detail, replaces_event_id, recorded_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11) ON CONFLICT DO NOTHING""",
            event.event_id,
            row["receipt_id"],
            row["source"].value,
            event.kind.value,
            event.atena_number,
            (Outcome.REFUSED if row["refused"] else Outcome.ACCEPTED).value,
            row["result"],
            row["summary"][:1000],
            json.dumps(row["detail"], ensure_ascii=False),
            row["replaces"],
            event.recorded_at,
        )

    async def book(self, department: str, first: date, last: date, limit: int = 5000) -> list[dict[str, Any]]:
        """受付処理簿: the department's receptions in [first, last] in order of 受付日 and arrival, each with the
        person's 氏名・生年月日・基礎年金番号 and its latest answer."""
        rows = await self.conn.fetch(
            f"""SELECT ids.receipt_id, ids.source, ids.kind, ids.atena_number, ids.received_on, ids.staff_id,
                       p.name, p.birth_date, coalesce(p.suspended, false) AS suspended,
                       (SELECT q.basic_pension_number FROM counter.qualification_event q
                        WHERE q.atena_number = ids.atena_number AND q.basic_pension_number IS NOT NULL
                        ORDER BY q.recorded_at DESC LIMIT 1) AS basic_pension_number,
                       coalesce(answer.outcome, 'unanswered') AS outcome, answer.explanation, answer.decided_at
                FROM counter.reception ids
                LEFT JOIN counter.person p ON p.atena_number = ids.atena_number
                {_LATEST_ANSWER}
                WHERE ids.department = $1 AND ids.received_on BETWEEN $2 AND $3
                ORDER BY ids.received_on, ids.recorded_at, ids.receipt_id LIMIT {int(limit)}""",
            department,
            first,
            last,
        )
        return [dict(r) for r in rows]

    async def departments(self) -> list[str]:
        """The 部署 that have received anything (the book's choice of counter)."""
        rows = await self.conn.fetch("SELECT DISTINCT department FROM counter.reception ORDER BY department")
        return [r["department"] for r in rows]

    async def filings_of(self, atena_number: str) -> list[dict[str, Any]]:
        """A person's receptions and filings (a filing answered without a reception on record too), each with
        its latest answer, newest first."""
        rows = await self.conn.fetch(
            f"""WITH ids AS (
                    SELECT receipt_id, source, kind FROM counter.reception WHERE atena_number = $1
                    UNION
                    SELECT filing_id, 'filing', kind FROM counter.filing_outcome WHERE atena_number = $1)
                SELECT ids.receipt_id, ids.source, ids.kind, r.received_on, r.department,
                       coalesce(answer.outcome, 'unanswered') AS outcome, answer.explanation, answer.decided_at
                FROM ids
                LEFT JOIN counter.reception r ON r.receipt_id = ids.receipt_id
                {_LATEST_ANSWER}
                ORDER BY coalesce(r.received_on, answer.decided_at::date) DESC, ids.receipt_id""",
            atena_number,
        )
        return [dict(r) for r in rows]

    async def decisions_of(self, atena_number: str) -> list[dict[str, Any]]:
        """A person's decisions, the latest of each 受付番号 (a screening redone replaces the earlier), newest first."""
        rows = await self.conn.fetch(
            """SELECT * FROM (SELECT DISTINCT ON (receipt_id) * FROM counter.decision WHERE atena_number = $1
                              ORDER BY receipt_id, recorded_at DESC) latest
               ORDER BY recorded_at DESC""",
            atena_number,
        )
        return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]

    async def jps_decisions_of(self, atena_number: str) -> list[dict[str, Any]]:
        """日本年金機構's decisions on a person's exemption applications (counter.exemption_decision), the latest of
        each application (a later 処理結果一覧表 corrects an earlier one), newest first."""
        rows = await self.conn.fetch(
            """SELECT * FROM (SELECT DISTINCT ON (application_id) * FROM counter.exemption_decision
                              WHERE atena_number = $1 ORDER BY application_id, recorded_at DESC) latest
               ORDER BY recorded_at DESC""",
            atena_number,
        )
        return [dict(r) for r in rows]

    async def accesses_of(self, atena_number: str, limit: int = 5000) -> list[dict[str, Any]]:
        """Who looked at the person: the access-log rows of views, reveals and exports of them, and of searches
        whose result list showed them; oldest first. Only the columns a resident may see are read."""
        rows = await self.conn.fetch(
            f"""SELECT logged_at, department, action, reason_code, reason_text FROM counter.access_log
                WHERE atena_number = $1
                   OR shown -> 'persons' @> jsonb_build_array(jsonb_build_object('宛名番号', $1::text))
                ORDER BY seq LIMIT {int(limit)}""",
            atena_number,
        )
        return [dict(r) for r in rows]
