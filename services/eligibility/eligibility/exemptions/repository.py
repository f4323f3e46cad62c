"""The exemption part of the eligibility slice in PostgreSQL: households, incomes, applications, screenings
and follow-ups (schema ``eligibility``, migration 0004)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import asyncpg
from kokunen_contracts.counter import ExemptionApplicationSubmitted
from kokunen_contracts.eligibility import ExemptionScreened
from kokunen_contracts.residency import PersonChanged
from kokunen_contracts.tax import IncomeDetermined

from ..domain.additional_premium import PremiumStatus
from ..domain.months import YearMonth
from .household import Member
from .income import Disability, IncomeFigures, SpouseDeduction
from .notifications import ExemptionPeriod
from .premiums import status_in_month
from .screening import Household
from .statutory import MonthRange

_FIGURES = (
    "general_dependants",
    "elderly_dependants",
    "specified_dependants",
    "young_dependants",
    "general_dependants_aged_16_to_18",
    "disabled_dependants",
    "specially_disabled_dependants",
    "working_student",
    "single_parent",
    "total_income",
    "net_loss",
    "casualty_loss_deduction",
    "medical_expense_deduction",
    "social_insurance_deduction",
    "small_business_mutual_aid_deduction",
    "spouse_special_deduction",
)


def figures_of(event: IncomeDetermined) -> dict[str, Any]:
    """What screening reads of an income event, minimised (no tax-exempt flag or pension income)."""
    return {
        **{name: getattr(event, name) for name in _FIGURES},
        "spouse_deduction": event.spouse_deduction.value,
        "disability": event.disability_class.value,
        "widow": event.widow_class.value == "widow",
    }


def income_figures(income_year: int, stored: dict[str, Any]) -> IncomeFigures:
    values = dict(stored)
    return IncomeFigures(
        income_year=income_year,
        spouse_deduction=SpouseDeduction(values.pop("spouse_deduction")),
        disability=Disability(values.pop("disability")),
        **values,
    )


BATCH_LOCK = 0x6B6F6B756E656E01  # advisory lock: the continuation batch (exclusive) against the stream (shared)

HOUSEHOLDS = """
    WITH wanted AS (
        SELECT w.applicant, greatest($1::date, f.first_day) AS day
        FROM unnest($2::text[]) AS w(applicant)
        CROSS JOIN LATERAL (SELECT min(effective_date) AS first_day FROM eligibility.household_version
                            WHERE atena_number = w.applicant) f),
    mine AS (
        SELECT w.applicant, w.day, m.household_number FROM wanted w
        CROSS JOIN LATERAL (SELECT household_number FROM eligibility.household_version h
                            WHERE h.atena_number = w.applicant AND h.effective_date <= w.day
                            ORDER BY h.effective_date DESC, h.recorded_at DESC LIMIT 1) m)
    SELECT mine.applicant, x.atena_number, x.relationship, x.householder_atena_number
    FROM mine
    CROSS JOIN LATERAL (SELECT DISTINCT atena_number FROM eligibility.household_version
                        WHERE household_number = mine.household_number) m
    CROSS JOIN LATERAL (SELECT h.atena_number, h.household_number, h.relationship, h.householder_atena_number,
                               h.is_resident
                        FROM eligibility.household_version h
                        WHERE h.atena_number = m.atena_number AND h.effective_date <= mine.day
                        ORDER BY h.effective_date DESC, h.recorded_at DESC LIMIT 1) x
    WHERE x.household_number = mine.household_number AND x.is_resident"""


async def lock_incomes(conn: asyncpg.Connection, atena_numbers: Iterable[str]) -> None:
    """Serialise reading a person's income for a screening with a new income of that person arriving (on
    another partition): whichever commits second sees the other, so no screening misses a correction. The
    continuation batch holds BATCH_LOCK exclusively instead of one lock per person."""
    await conn.execute("SELECT pg_advisory_xact_lock_shared($1)", BATCH_LOCK)
    for atena in sorted(set(atena_numbers)):
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('eligibility.income:' || $1, 0))", atena)


@dataclass(frozen=True)
class ScreeningRow:
    """A current screening that read some person's income: enough to redo it."""

    event_id: uuid.UUID
    application: ExemptionApplicationSubmitted
    outcome: str
    decision: str | None
    household_on: date
    household: Household


class ExemptionRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    # --- households ------------------------------------------------------------------------------

    async def remember_household(self, event: PersonChanged) -> None:
        await self.remember_households([event])

    async def remember_households(self, events: Sequence[PersonChanged]) -> None:
        """The household facts of person changes (世帯番号, 続柄, 世帯主) as of their 異動日, in one statement."""
        if not events:
            return
        await self.conn.execute(
            """INSERT INTO eligibility.household_version (event_id, atena_number, household_number, relationship,
                                                          householder_atena_number, is_resident, effective_date)
               SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::boolean[],
                                    $7::date[])
               ON CONFLICT (event_id) DO NOTHING""",
            [e.event_id for e in events],
            [e.atena_number for e in events],
            [e.household_number for e in events],
            [e.relationship for e in events],
            [e.householder_atena_number for e in events],
            [e.is_resident for e in events],
            [e.effective_date for e in events],
        )

    async def household_members(self, applicants: Sequence[str], day: date) -> dict[str, list[Member]]:
        """For each applicant, the residents of their household as of ``day`` (their first known household when
        the slice knows nothing of them that early). One query for one applicant or for a whole batch: the stream
        path and the continuation batch read households the same way."""
        found: dict[str, list[Member]] = {a: [] for a in applicants}
        for r in await self.conn.fetch(HOUSEHOLDS, day, list(applicants)):
            found[r["applicant"]].append(Member(r["atena_number"], r["relationship"], r["householder_atena_number"]))
        return found

    # --- incomes ---------------------------------------------------------------------------------

    async def save_income(self, event: IncomeDetermined) -> bool:
        """Keep an income figure; True if it is now the person's current one for that year (a stale or
        repeated correction is kept but changes nothing)."""
        await self.conn.execute(
            """INSERT INTO eligibility.income (event_id, atena_number, income_year, correction_seq, figures)
               VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT (event_id) DO NOTHING""",
            event.event_id,
            event.atena_number,
            event.income_year,
            event.correction_seq,
            json.dumps(figures_of(event)),
        )
        current: uuid.UUID | None = await self.conn.fetchval(
            """SELECT event_id FROM eligibility.income WHERE atena_number = $1 AND income_year = $2
               ORDER BY correction_seq DESC, recorded_at DESC LIMIT 1""",
            event.atena_number,
            event.income_year,
        )
        return current == event.event_id

    async def incomes(self, atena_numbers: Iterable[str], income_year: int) -> dict[str, IncomeFigures]:
        rows = await self.conn.fetch(
            """SELECT DISTINCT ON (atena_number) atena_number, figures::text AS figures FROM eligibility.income
               WHERE atena_number = ANY($1::text[]) AND income_year = $2
               ORDER BY atena_number, correction_seq DESC, recorded_at DESC""",
            sorted(set(atena_numbers)),
            income_year,
        )
        return {r["atena_number"]: income_figures(income_year, json.loads(r["figures"])) for r in rows}

    # --- applications and screenings -------------------------------------------------------------

    async def claim_application(self, event: ExemptionApplicationSubmitted) -> bool:
        """Record an application once; False if its 受付番号 was already received."""
        inserted = await self.conn.fetchval(
            """INSERT INTO eligibility.exemption_application (application_id, event_id, atena_number, kind,
                   received_on, first_month, last_month, continuation, status, payload)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'received', $9::jsonb)
               ON CONFLICT (application_id) DO NOTHING RETURNING 1""",
            event.application_id,
            event.event_id,
            event.atena_number,
            event.kind.value,
            event.received_on,
            event.first_month,
            event.last_month,
            event.continuation,
            event.model_dump_json(),
        )
        return bool(inserted)

    async def save_screening(
        self,
        screened: ExemptionScreened,
        *,
        cause_event_id: uuid.UUID,
        household_on: date | None,
        household: Household | None,
        persons: list[str],
    ) -> None:
        """The application's current screening: the one it replaces (if any) is kept, superseded."""
        await self.conn.execute(
            """UPDATE eligibility.exemption_screening SET superseded_at = clock_timestamp()
               WHERE application_id = $1 AND superseded_at IS NULL""",
            screened.application_id,
        )
        await self.conn.execute(
            """INSERT INTO eligibility.exemption_screening (event_id, application_id, cause_event_id, outcome,
                   decision, income_year, household_on, household, persons, result)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10::jsonb)""",
            screened.event_id,
            screened.application_id,
            cause_event_id,
            screened.outcome.value,
            screened.decision.value if screened.decision else None,
            screened.income_year,
            household_on,
            json.dumps(asdict(household)) if household else None,
            sorted(set(persons)),
            screened.model_dump_json(include={"checks", "explanation", "refusals"}),
        )
        await self.conn.execute(
            "UPDATE eligibility.exemption_application SET status = $2 WHERE application_id = $1",
            screened.application_id,
            "refused" if screened.refusals else "screened",
        )

    async def screenings_reading(self, atena_number: str, income_year: int) -> list[ScreeningRow]:
        """Current screenings that read (or looked for) this person's income of this year."""
        rows = await self.conn.fetch(
            """SELECT s.event_id, s.outcome, s.decision, s.household_on, s.household::text AS household,
                      a.payload::text AS payload
               FROM eligibility.exemption_screening s JOIN eligibility.exemption_application a USING (application_id)
               WHERE s.superseded_at IS NULL AND s.persons @> ARRAY[$1::text] AND s.income_year = $2
               ORDER BY a.application_id
               FOR UPDATE OF s""",
            atena_number,
            income_year,
        )
        return [
            ScreeningRow(
                r["event_id"],
                ExemptionApplicationSubmitted.model_validate_json(r["payload"]),
                r["outcome"],
                r["decision"],
                r["household_on"],
                Household(**json.loads(r["household"])),
            )
            for r in rows
        ]

    async def open_follow_up(
        self, follow_up_id: uuid.UUID, atena_number: str, reason: str, application_id: uuid.UUID | None, detail: str
    ) -> None:
        await self.conn.execute(
            """INSERT INTO eligibility.follow_up (follow_up_id, atena_number, reason, application_id, detail)
               VALUES ($1, $2, $3, $4, $5) ON CONFLICT (follow_up_id) DO NOTHING""",
            follow_up_id,
            atena_number,
            reason,
            application_id,
            detail,
        )

    async def record_jps_outcome(self, application_id: uuid.UUID, outcome: str, processed_on: date | None) -> None:
        """JPS's processing of the reported application (処理結果一覧表), kept on the application."""
        await self.conn.execute(
            """UPDATE eligibility.exemption_application SET jps_outcome = $2, jps_processed_on = $3
               WHERE application_id = $1""",
            application_id,
            outcome,
            processed_on,
        )

    async def decision_basis(self, application_id: uuid.UUID) -> asyncpg.Record | None:
        """What JPS's decision on an application is read against: the application and its current screening."""
        row: asyncpg.Record | None = await self.conn.fetchrow(
            """SELECT a.atena_number, a.kind, a.first_month, a.last_month,
                      CASE WHEN s.outcome = 'passed' THEN s.decision END AS screened_tier
               FROM eligibility.exemption_application a
               LEFT JOIN eligibility.exemption_screening s
                      ON s.application_id = a.application_id AND s.superseded_at IS NULL
               WHERE a.application_id = $1 FOR UPDATE OF a""",
            application_id,
        )
        return row

    async def record_jps_decision(self, application_id: uuid.UUID, decision: str, tier: str | None) -> None:
        """JPS's decision (承認・却下) and the tier it put in force, kept on the application."""
        await self.conn.execute(
            """UPDATE eligibility.exemption_application SET jps_decision = $2, jps_decided_tier = $3
               WHERE application_id = $1""",
            application_id,
            decision,
            tier,
        )

    # --- 届出: 法定免除・産前産後免除 ---------------------------------------------------------------

    async def open_statutory_exemption(self, atena_number: str) -> tuple[uuid.UUID, ExemptionPeriod] | None:
        row = await self.conn.fetchrow(
            """SELECT period_id, status, first_month, last_month, reason, article FROM eligibility.exemption_period
               WHERE atena_number = $1 AND superseded_at IS NULL AND last_month IS NULL
                 AND status = 'statutory_exemption' FOR UPDATE""",
            atena_number,
        )
        if row is None:
            return None
        months = MonthRange(year_month(row["first_month"]), None)
        return row["period_id"], ExemptionPeriod(PremiumStatus(row["status"]), months, row["reason"], row["article"])

    async def save_exemption_period(
        self,
        period_id: uuid.UUID,
        notification_id: uuid.UUID,
        atena_number: str,
        period: ExemptionPeriod,
        *,
        supersedes: uuid.UUID | None,
    ) -> None:
        if supersedes is not None:
            await self.conn.execute(
                "UPDATE eligibility.exemption_period SET superseded_at = clock_timestamp() WHERE period_id = $1",
                supersedes,
            )
        await self.conn.execute(
            """INSERT INTO eligibility.exemption_period (period_id, notification_id, atena_number, status, first_month,
                                                         last_month, reason, article)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (period_id) DO NOTHING""",
            period_id,
            notification_id,
            atena_number,
            period.status.value,
            str(period.months.first),
            str(period.months.last) if period.months.last else None,
            period.reason,
            period.article,
        )

    async def premium_status(self, atena_number: str, month: YearMonth) -> PremiumStatus:
        """保険料の免除等の状態 in ``month``: 届出 (法定免除・産前産後) and applications as JPS decided them
        (``TIER_IN_FORCE``); 産前産後 first (status_in_month)."""
        text = str(month)
        rows = await self.conn.fetch(
            f"""SELECT status FROM eligibility.exemption_period
               WHERE atena_number = $1 AND superseded_at IS NULL AND first_month <= $2
                 AND (last_month IS NULL OR last_month >= $2)
               UNION ALL
               SELECT {TIER_IN_FORCE} FROM eligibility.exemption_application a
               LEFT JOIN eligibility.exemption_screening s
                      ON s.application_id = a.application_id AND s.superseded_at IS NULL
               WHERE a.atena_number = $1 AND a.first_month <= $2 AND a.last_month >= $2
                 AND {TIER_IN_FORCE} IS NOT NULL""",
            atena_number,
            text,
        )
        return status_in_month(PremiumStatus(r[0]) for r in rows)


TIER_IN_FORCE = """coalesce(a.jps_decided_tier,
    CASE WHEN a.jps_decision IS NULL AND a.jps_outcome = 'processed' AND s.outcome = 'passed' THEN s.decision END)"""
"""The tier an application puts in force (SQL over application ``a`` and its current screening ``s``): the one JPS's
decision put in force (jps_decision.py, kept when the result arrived); for a result without a decision, the
screened tier once JPS processed it [unconfirmed]; otherwise none (not yet decided, or 却下)."""


def year_month(text: str) -> YearMonth:
    year, month = text.split("-")
    return YearMonth(int(year), int(month))
