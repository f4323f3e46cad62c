"""The eligibility slice in PostgreSQL (schema ``eligibility``)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import asyncpg
from kokunen_contracts.counter import FilingSubmitted
from kokunen_contracts.jps import JpsProcessingResult
from kokunen_contracts.residency import PersonChanged

from ..domain.categories import InsuredCategory, OtherCategoryStatus
from ..domain.dated_facts import CalendarFactKind, DatedFact, FactKind
from ..domain.filings import AdditionalPremium
from ..domain.history_diff import PeriodChange, StoredPeriod
from ..domain.months import YearMonth
from ..domain.periods import QualificationPeriod
from ..domain.qualification import AcquisitionReason, LossReason
from ..domain.residency_effects import PersonChange, PersonState

JST = ZoneInfo("Asia/Tokyo")


@dataclass(frozen=True)
class PersonRecord:
    """The person as eligibility keeps them: the state the law reads, plus 年金基本 and the sealed My Number."""

    state: PersonState
    nationality: str | None
    my_number_sealed: str | None
    pension_fund_member: bool


def _state(row: asyncpg.Record) -> PersonState:
    status = json.loads(row["residence_status"]) if row["residence_status"] else None
    return PersonState(
        birth=row["birth_date"],
        lives_in_japan=row["lives_in_japan"],
        is_resident=row["is_resident"],
        other_category=OtherCategoryStatus(row["other_category"]),
        residence_status=status["status"] if status else None,
        designated_activity=status.get("designated_activity") if status else None,
        can_receive_kosei_old_age_benefit=row["can_receive_kosei_old_age_benefit"],
        basic_pension_number=row["basic_pension_number"],
    )


class EligibilityRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    # --- persons -------------------------------------------------------------------------------

    async def person(self, atena_number: str, *, lock: bool = True) -> PersonRecord | None:
        row = await self.conn.fetchrow(
            f"SELECT * FROM eligibility.person WHERE atena_number = $1{' FOR UPDATE' if lock else ''}", atena_number
        )
        if row is None:
            return None
        return PersonRecord(_state(row), row["nationality"], row["my_number_sealed"], row["pension_fund_member"])

    async def remember_person(self, event: PersonChanged) -> PersonRecord:
        """Keep what qualification needs from a person change (minimised: no name, no address)."""
        status = event.residence_status
        row = await self.conn.fetchrow(
            """INSERT INTO eligibility.person (atena_number, birth_date, lives_in_japan, is_resident, resident_class,
                                              nationality, residence_status, designated_activity, my_number_sealed,
                                              updated_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, now())
               ON CONFLICT (atena_number) DO UPDATE SET birth_date = excluded.birth_date,
                   lives_in_japan = excluded.lives_in_japan, is_resident = excluded.is_resident,
                   resident_class = excluded.resident_class, nationality = excluded.nationality,
                   residence_status = excluded.residence_status, designated_activity = excluded.designated_activity,
                   my_number_sealed = coalesce(excluded.my_number_sealed, eligibility.person.my_number_sealed),
                   updated_at = now()
               RETURNING *""",
            event.atena_number,
            event.birth_date,
            event.lives_in_japan,
            event.is_resident,
            event.resident_class.value,
            event.nationality,
            status.model_dump_json() if status else None,
            status.designated_activity if status else None,
            event.my_number_sealed,
        )
        return PersonRecord(_state(row), row["nationality"], row["my_number_sealed"], row["pension_fund_member"])

    async def update_pension_basics(
        self,
        atena_number: str,
        *,
        basic_pension_number: str | None = None,
        phone: str | None = None,
        note: str | None = None,
        other_category: OtherCategoryStatus | None = None,
        pension_fund_member: bool | None = None,
    ) -> None:
        """＜年金基本＞ and the 第2号/第3号 status, as filings state them (None leaves a field as it is)."""
        await self.conn.execute(
            """UPDATE eligibility.person SET
                   basic_pension_number = coalesce($2, basic_pension_number), phone = coalesce($3, phone),
                   pension_note = coalesce($4, pension_note), other_category = coalesce($5, other_category),
                   pension_fund_member = coalesce($6, pension_fund_member), updated_at = now()
               WHERE atena_number = $1""",
            atena_number,
            basic_pension_number,
            phone,
            note,
            other_category.value if other_category else None,
            pension_fund_member,
        )

    async def keep_jps_result(
        self, result: JpsProcessingResult, follow_up: str | None, *, pension_number_taken: bool, known_person: bool
    ) -> None:
        """One reconciled line of a processing-result list, with the follow-up it asks for."""
        await self.conn.execute(
            """INSERT INTO eligibility.jps_result
                   (event_id, atena_number, list_id, line_number, batch_id, report_id, report_kind, reconciliation,
                    mismatched_fields, jps_outcome, jps_result_code, jps_message, processed_on, follow_up,
                    pension_number_taken, known_person, jps_pension_number)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
               ON CONFLICT (event_id) DO NOTHING""",
            result.event_id,
            result.atena_number,
            result.list_id,
            result.line_number,
            result.batch_id,
            result.report_id,
            result.report_kind.value if result.report_kind else None,
            result.reconciliation.value,
            result.mismatched_fields,
            result.jps_outcome.value,
            result.jps_result_code,
            result.jps_message,
            result.processed_on,
            follow_up,
            pension_number_taken,
            known_person,
            result.basic_pension_number,
        )

    async def results_kept_before_the_person(self, atena_number: str) -> list[asyncpg.Record]:
        """JPS results that arrived before the person did (another topic: Kafka does not order the two)."""
        return list(
            await self.conn.fetch(
                """SELECT event_id, reconciliation, jps_outcome, jps_pension_number FROM eligibility.jps_result
                   WHERE atena_number = $1 AND NOT known_person ORDER BY recorded_at, event_id""",
                atena_number,
            )
        )

    async def settle_jps_result(
        self, event_id: uuid.UUID, follow_up: str | None, *, pension_number_taken: bool
    ) -> None:
        await self.conn.execute(
            """UPDATE eligibility.jps_result SET known_person = true, follow_up = $2, pension_number_taken = $3
               WHERE event_id = $1""",
            event_id,
            follow_up,
            pension_number_taken,
        )

    async def flag_address_unknown(self, atena_number: str) -> None:
        await self.conn.execute(
            "UPDATE eligibility.person SET address_unknown = true, updated_at = now() WHERE atena_number = $1",
            atena_number,
        )

    # --- qualification history -----------------------------------------------------------------

    async def history(self, atena_number: str) -> list[StoredPeriod]:
        rows = await self.conn.fetch(
            """SELECT * FROM eligibility.qualification_version
               WHERE atena_number = $1 AND superseded_at IS NULL ORDER BY acquired_on FOR UPDATE""",
            atena_number,
        )
        return [
            StoredPeriod(
                period=QualificationPeriod(
                    category=InsuredCategory(r["category"]),
                    acquired_on=r["acquired_on"],
                    acquisition_reason=AcquisitionReason(r["acquisition_reason"]),
                    lost_on=r["lost_on"],
                    loss_reason=LossReason(r["loss_reason"]) if r["loss_reason"] else None,
                ),
                period_id=r["period_id"],
                version_id=r["version_id"],
                last_event_id=r["published_event_id"],
            )
            for r in rows
        ]

    async def record_change(
        self, atena_number: str, change: PeriodChange, *, cause_event_id: uuid.UUID, published_event_id: uuid.UUID
    ) -> None:
        """Supersede the period's current version and, unless the period is gone, add its new one."""
        if change.supersedes_version_id is not None:
            await self.conn.execute(
                "UPDATE eligibility.qualification_version SET superseded_at = clock_timestamp() WHERE version_id = $1",
                change.supersedes_version_id,
            )
        if change.removed:
            return
        p = change.period
        await self.conn.execute(
            """INSERT INTO eligibility.qualification_version
                   (period_id, atena_number, category, acquired_on, acquisition_reason, lost_on, loss_reason,
                    cause_event_id, published_event_id, change_kind)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)""",
            change.period_id,
            atena_number,
            p.category.value,
            p.acquired_on,
            p.acquisition_reason.value,
            p.lost_on,
            p.loss_reason.value if p.loss_reason else None,
            cause_event_id,
            published_event_id,
            change.kind.value,
        )

    async def given_period_ids(self, atena_number: str) -> set[uuid.UUID]:
        """Periods the derivation keeps as they are: those a filing (届出) ever set or changed (staff's) and
        those recorded before dated facts were kept (migration 0004)."""
        rows = await self.conn.fetch(
            """SELECT q.period_id FROM eligibility.qualification_version q
               WHERE q.atena_number = $1
                 AND (EXISTS (SELECT 1 FROM eligibility.filing f
                              WHERE f.event_id = q.cause_event_id AND f.atena_number = $1)
                      OR EXISTS (SELECT 1 FROM eligibility.period_given g WHERE g.period_id = q.period_id))""",
            atena_number,
        )
        return {r["period_id"] for r in rows}

    # --- dated facts -------------------------------------------------------------------------------

    async def keep_fact(
        self,
        atena_number: str,
        event_id: uuid.UUID,
        kind: FactKind,
        on: date,
        source_recorded_at: datetime,
        *,
        cancels: uuid.UUID | None = None,
        residence_status: str | None = None,
        designated_activity: str | None = None,
    ) -> None:
        """Keep a fact the history is derived from (once: a redelivery changes nothing)."""
        await self.conn.execute(
            """INSERT INTO eligibility.dated_fact (event_id, atena_number, kind, effective_date, source_recorded_at,
                                                   cancels_event_id, residence_status, designated_activity)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (event_id) DO NOTHING""",
            event_id,
            atena_number,
            kind.value,
            on,
            source_recorded_at,
            cancels,
            residence_status,
            designated_activity,
        )

    async def facts(self, atena_number: str) -> list[DatedFact]:
        """The person's facts, in the order the resident-record system recorded them."""
        rows = await self.conn.fetch(
            """SELECT * FROM eligibility.dated_fact WHERE atena_number = $1
               ORDER BY source_recorded_at, effective_date, event_id""",
            atena_number,
        )
        return [
            DatedFact(
                event_id=r["event_id"],
                kind=_fact_kind(r["kind"]),
                on=r["effective_date"],
                recorded_on=r["source_recorded_at"].astimezone(JST).date(),
                cancels=r["cancels_event_id"],
                residence_status=r["residence_status"],
                designated_activity=r["designated_activity"],
            )
            for r in rows
        ]

    # --- scheduled moves and the calendar --------------------------------------------------------

    async def schedule_move(self, atena_number: str, due_on: date, cause_event_id: uuid.UUID) -> None:
        await self.conn.execute(
            """INSERT INTO eligibility.scheduled_move (cause_event_id, atena_number, due_on) VALUES ($1, $2, $3)
               ON CONFLICT (cause_event_id) DO NOTHING""",
            cause_event_id,
            atena_number,
            due_on,
        )

    async def cancel_scheduled_move(self, cause_event_id: uuid.UUID) -> bool:
        """異動の取消し of a 国外転出: marked cancelled even when the calendar already applied it (the derived
        history drops its loss either way)."""
        status: str = await self.conn.execute(
            "UPDATE eligibility.scheduled_move SET cancelled_at = clock_timestamp() "
            "WHERE cause_event_id = $1 AND cancelled_at IS NULL",
            cause_event_id,
        )
        return status.endswith(" 1")

    async def take_scheduled_move(self, cause_event_id: uuid.UUID) -> date | None:
        """The 転出日 of a scheduled move still to apply, marking it applied; None if cancelled or done."""
        due: date | None = await self.conn.fetchval(
            """UPDATE eligibility.scheduled_move SET applied_at = clock_timestamp()
               WHERE cause_event_id = $1 AND applied_at IS NULL AND cancelled_at IS NULL RETURNING due_on""",
            cause_event_id,
        )
        return due

    async def due_moves(self, today: date) -> list[asyncpg.Record]:
        return list(
            await self.conn.fetch(
                """SELECT cause_event_id, atena_number, due_on FROM eligibility.scheduled_move
                   WHERE due_on <= $1 AND applied_at IS NULL AND cancelled_at IS NULL ORDER BY due_on""",
                today,
            )
        )

    async def scanned_to(self) -> date | None:
        value: date | None = await self.conn.fetchval("SELECT scanned_to FROM eligibility.calendar_watermark")
        return value

    async def set_scanned_to(self, day: date) -> None:
        await self.conn.execute(
            """INSERT INTO eligibility.calendar_watermark (id, scanned_to) VALUES (true, $1)
               ON CONFLICT (id) DO UPDATE SET scanned_to = greatest(eligibility.calendar_watermark.scanned_to, $1)""",
            day,
        )

    async def born_between(self, first: date, last: date, *, with_open_category_1: bool) -> list[asyncpg.Record]:
        """Persons born in [first, last] (a candidate window the caller narrows with the exact age rule).

        For 20歳到達 every person known is a candidate: whether they lived in the city that day is for the
        derivation to judge from their dated facts (the current record may already show a 転出 still to come)."""
        if with_open_category_1:
            query = """SELECT p.atena_number, p.birth_date FROM eligibility.person p
                       WHERE p.birth_date BETWEEN $1 AND $2 AND EXISTS (
                           SELECT 1 FROM eligibility.qualification_version q
                           WHERE q.atena_number = p.atena_number AND q.superseded_at IS NULL
                             AND q.lost_on IS NULL AND q.category = 'category_1')"""
        else:
            query = "SELECT atena_number, birth_date FROM eligibility.person WHERE birth_date BETWEEN $1 AND $2"
        return list(await self.conn.fetch(query, first, last))

    # --- filings and 付加情報 ----------------------------------------------------------------------

    async def claim_filing(self, filing: FilingSubmitted) -> bool:
        """Record a filing once; False if its 受付番号 was already processed (a duplicate filing)."""
        inserted = await self.conn.fetchval(
            """INSERT INTO eligibility.filing (filing_id, event_id, atena_number, kind, staff_id, department,
                                               received_on, status, payload)
               VALUES ($1, $2, $3, $4, $5, $6, $7, 'received', $8::jsonb)
               ON CONFLICT (filing_id) DO NOTHING RETURNING 1""",
            filing.filing_id,
            filing.event_id,
            filing.atena_number,
            filing.kind.value,
            filing.staff_id,
            filing.department,
            filing.received_on,
            filing.model_dump_json(),
        )
        return bool(inserted)

    async def set_filing_status(self, filing_id: uuid.UUID, status: str, rejection: str | None = None) -> None:
        await self.conn.execute(
            "UPDATE eligibility.filing SET status = $2, rejection = $3 WHERE filing_id = $1",
            filing_id,
            status,
            rejection,
        )

    async def pending_correction(self, filing_id: uuid.UUID, atena_number: str) -> FilingSubmitted | None:
        """A correction waiting for a second staff member's confirmation, as it was filed."""
        row = await self.conn.fetchrow(
            """SELECT payload::text AS payload FROM eligibility.filing
               WHERE filing_id = $1 AND atena_number = $2 AND kind = 'record_correction'
                 AND status = 'pending_confirmation' FOR UPDATE""",
            filing_id,
            atena_number,
        )
        return None if row is None else FilingSubmitted.model_validate_json(row["payload"])

    async def confirm_correction(self, filing_id: uuid.UUID, confirmed_by: str) -> None:
        await self.conn.execute(
            """UPDATE eligibility.filing SET status = 'accepted', confirmed_by = $2, confirmed_at = clock_timestamp()
               WHERE filing_id = $1""",
            filing_id,
            confirmed_by,
        )

    async def additional_premium(self, atena_number: str) -> tuple[int, AdditionalPremium] | None:
        row = await self.conn.fetchrow(
            """SELECT version_id, from_month, until_month FROM eligibility.additional_premium_version
               WHERE atena_number = $1 AND superseded_at IS NULL ORDER BY from_month DESC LIMIT 1 FOR UPDATE""",
            atena_number,
        )
        if row is None:
            return None
        until = _year_month(row["until_month"]) if row["until_month"] else None
        return row["version_id"], AdditionalPremium(_year_month(row["from_month"]), until)

    async def save_additional_premium(
        self, atena_number: str, premium: AdditionalPremium, *, supersedes: int | None, cause_filing_id: uuid.UUID
    ) -> None:
        if supersedes is not None:
            await self.conn.execute(
                "UPDATE eligibility.additional_premium_version SET superseded_at = clock_timestamp() "
                "WHERE version_id = $1",
                supersedes,
            )
        await self.conn.execute(
            """INSERT INTO eligibility.additional_premium_version (atena_number, from_month, until_month,
                                                                   cause_filing_id)
               VALUES ($1, $2, $3, $4)""",
            atena_number,
            str(premium.from_month),
            str(premium.until_month) if premium.until_month else None,
            cause_filing_id,
        )


def _fact_kind(value: str) -> FactKind:
    try:
        return PersonChange(value)
    except ValueError:
        return CalendarFactKind(value)


def _year_month(text: str) -> YearMonth:
    year, month = text.split("-")
    return YearMonth(int(year), int(month))
