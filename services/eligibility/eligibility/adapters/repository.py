"""The eligibility slice in PostgreSQL (schema ``eligibility``)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final
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


def _state(row: Mapping[str, Any]) -> PersonState:
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
        return None if row is None else record_of(row)

    async def lock_arrivals(self, atena_numbers: Sequence[str]) -> None:
        """Serialise a person's arrival (person changes) with JPS results for them (another subscription, applied
        concurrently): whichever commits second sees the other — a result for a person not known yet is kept for
        them, and a person met for the first time takes the results kept (``results_kept_before_the_person``),
        never neither. Transaction-scoped advisory locks, taken in one order in one statement."""
        await self.conn.execute(
            """SELECT pg_advisory_xact_lock(k) FROM (
                   SELECT DISTINCT hashtextextended('eligibility.person:' || a, 0) AS k
                   FROM unnest($1::text[]) AS a ORDER BY k) AS keys""",
            list(atena_numbers),
        )

    async def persons(self, atena_numbers: list[str]) -> dict[str, asyncpg.Record]:
        """The rows of those of these persons eligibility knows, locked in 宛名番号 order (``person`` for many)."""
        rows = await self.conn.fetch(
            """SELECT * FROM eligibility.person WHERE atena_number = ANY($1::text[])
               ORDER BY atena_number FOR UPDATE""",
            atena_numbers,
        )
        return {r["atena_number"]: r for r in rows}

    async def remember_person(self, event: PersonChanged) -> PersonRecord:
        """Keep what qualification needs from a person change (minimised: no name, no address)."""
        return record_of((await self.remember_persons([person_columns(event)]))[event.atena_number])

    async def remember_persons(self, persons: list[PersonColumns]) -> dict[str, asyncpg.Record]:
        """Keep persons as ``person_columns`` gives them (one row each) in one statement; the rows as stored."""
        rows = await self.conn.fetch(
            f"""INSERT INTO eligibility.person ({", ".join(PERSON_COLUMNS)}, updated_at)
               SELECT a, b, l, r, c, n, s::jsonb, d, m, now()
               FROM unnest($1::text[], $2::date[], $3::boolean[], $4::boolean[], $5::text[], $6::text[], $7::text[],
                           $8::text[], $9::text[]) AS x(a, b, l, r, c, n, s, d, m)
               ON CONFLICT (atena_number) DO UPDATE SET birth_date = excluded.birth_date,
                   lives_in_japan = excluded.lives_in_japan, is_resident = excluded.is_resident,
                   resident_class = excluded.resident_class, nationality = excluded.nationality,
                   residence_status = excluded.residence_status, designated_activity = excluded.designated_activity,
                   my_number_sealed = coalesce(excluded.my_number_sealed, eligibility.person.my_number_sealed),
                   updated_at = now()
               RETURNING *""",
            *(list(column) for column in zip(*persons, strict=True)),
        )
        return {r["atena_number"]: r for r in rows}

    async def persons_met(self, atena_numbers: list[str]) -> dict[str, PersonMet]:
        """For each person, whether eligibility knows them and their sealed My Number (their rows locked, in
        宛名番号 order), and whether JPS results wait for them (``results_kept_before_the_person``)."""
        rows = await self.conn.fetch(
            """WITH locked AS (
                   SELECT atena_number, my_number_sealed FROM eligibility.person
                   WHERE atena_number = ANY($1::text[]) ORDER BY atena_number FOR UPDATE)
               SELECT a.atena_number, l.atena_number IS NOT NULL AS known, l.my_number_sealed,
                      EXISTS (SELECT 1 FROM eligibility.jps_result r
                              WHERE r.atena_number = a.atena_number AND NOT r.known_person) AS results_kept
               FROM unnest($1::text[]) AS a(atena_number) LEFT JOIN locked l USING (atena_number)""",
            atena_numbers,
        )
        return {r["atena_number"]: PersonMet(r["known"], r["my_number_sealed"], r["results_kept"]) for r in rows}

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
        await self.flag_addresses_unknown([atena_number])

    async def flag_addresses_unknown(self, atena_numbers: list[str]) -> None:
        if atena_numbers:
            await self.conn.execute(
                "UPDATE eligibility.person SET address_unknown = true, updated_at = now() "
                "WHERE atena_number = ANY($1::text[])",
                atena_numbers,
            )

    # --- qualification history -----------------------------------------------------------------

    async def history(self, atena_number: str) -> list[StoredPeriod]:
        return (await self.histories([atena_number]))[atena_number]

    async def histories(self, atena_numbers: list[str]) -> dict[str, list[StoredPeriod]]:
        """Each person's current periods in date order (locked: the caller stores what follows from them)."""
        if not atena_numbers:
            return {}
        rows = await self.conn.fetch(
            """SELECT * FROM eligibility.qualification_version
               WHERE atena_number = ANY($1::text[]) AND superseded_at IS NULL
               ORDER BY atena_number, acquired_on, version_id FOR UPDATE""",
            atena_numbers,
        )
        found: dict[str, list[StoredPeriod]] = {a: [] for a in atena_numbers}
        for r in rows:
            found[r["atena_number"]].append(
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
            )
        return found

    async def record_change(
        self, atena_number: str, change: PeriodChange, *, cause_event_id: uuid.UUID, published_event_id: uuid.UUID
    ) -> None:
        """Supersede the period's current version and, unless the period is gone, add its new one."""
        await self.record_changes(
            [change.supersedes_version_id] if change.supersedes_version_id is not None else [],
            [] if change.removed else [version_row(atena_number, change, cause_event_id, published_event_id)],
        )

    async def record_changes(self, superseded: list[int], versions: list[VersionRow]) -> None:
        """Supersede stored versions, then add new ones in order (a version a later change of the same batch
        superseded is added superseded): the current periods never overlap in between (the exclusion
        constraint)."""
        if superseded:
            await self.conn.execute(
                "UPDATE eligibility.qualification_version SET superseded_at = clock_timestamp() "
                "WHERE version_id = ANY($1::bigint[])",
                superseded,
            )
        if not versions:
            return
        await self.conn.execute(
            """INSERT INTO eligibility.qualification_version
                   (period_id, atena_number, category, acquired_on, acquisition_reason, lost_on, loss_reason,
                    cause_event_id, published_event_id, change_kind, superseded_at)
               SELECT v.period_id, v.atena_number, v.category, v.acquired_on, v.acquisition_reason, v.lost_on,
                      v.loss_reason, v.cause_event_id, v.published_event_id, v.change_kind,
                      CASE WHEN v.superseded THEN clock_timestamp() END
               FROM unnest($1::uuid[], $2::text[], $3::text[], $4::date[], $5::text[], $6::date[], $7::text[],
                           $8::uuid[], $9::uuid[], $10::text[], $11::boolean[])
                    WITH ORDINALITY AS v(period_id, atena_number, category, acquired_on, acquisition_reason, lost_on,
                                         loss_reason, cause_event_id, published_event_id, change_kind, superseded, n)
               ORDER BY v.n""",
            *(list(column) for column in zip(*versions, strict=True)),
        )

    async def given_period_ids(self, atena_numbers: list[str]) -> set[uuid.UUID]:
        """Periods the derivation keeps as they are: those a filing (届出) ever set or changed (staff's) and
        those recorded before dated facts were kept (migration 0004)."""
        if not atena_numbers:
            return set()
        rows = await self.conn.fetch(
            """SELECT q.period_id FROM eligibility.qualification_version q
               WHERE q.atena_number = ANY($1::text[])
                 AND (EXISTS (SELECT 1 FROM eligibility.filing f
                              WHERE f.event_id = q.cause_event_id AND f.atena_number = q.atena_number)
                      OR EXISTS (SELECT 1 FROM eligibility.period_given g WHERE g.period_id = q.period_id))""",
            atena_numbers,
        )
        return {r["period_id"] for r in rows}

    # --- dated facts -------------------------------------------------------------------------------

    async def keep_facts(self, rows: list[FactRow]) -> None:
        """Keep facts in one statement, each once."""
        if not rows:
            return
        await self.conn.execute(
            """INSERT INTO eligibility.dated_fact (atena_number, event_id, kind, effective_date, source_recorded_at,
                                                   cancels_event_id, residence_status, designated_activity)
               SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::date[], $5::timestamptz[], $6::uuid[],
                                    $7::text[], $8::text[])
               ON CONFLICT (event_id) DO NOTHING""",
            *(list(column) for column in zip(*rows, strict=True)),
        )

    async def facts(self, atena_number: str) -> list[DatedFact]:
        """The person's facts, in the order the resident-record system recorded them."""
        return [fact for _, fact in (await self.ordered_facts([atena_number]))[atena_number]]

    async def ordered_facts(self, atena_numbers: list[str]) -> dict[str, list[tuple[FactOrder, DatedFact]]]:
        """Each person's facts with their place in ``fact_order`` (the order the resident-record system recorded
        them), in that order."""
        if not atena_numbers:
            return {}
        rows = await self.conn.fetch(
            """SELECT * FROM eligibility.dated_fact WHERE atena_number = ANY($1::text[])
               ORDER BY atena_number, source_recorded_at, effective_date, event_id""",
            atena_numbers,
        )
        found: dict[str, list[tuple[FactOrder, DatedFact]]] = {a: [] for a in atena_numbers}
        for r in rows:
            row: FactRow = (
                r["atena_number"],
                r["event_id"],
                r["kind"],
                r["effective_date"],
                r["source_recorded_at"],
                r["cancels_event_id"],
                r["residence_status"],
                r["designated_activity"],
            )
            found[r["atena_number"]].append((fact_order(row), dated_fact(row)))
        return found

    # --- scheduled moves and the calendar --------------------------------------------------------

    async def schedule_move(self, atena_number: str, due_on: date, cause_event_id: uuid.UUID) -> None:
        await self.schedule_moves([(cause_event_id, atena_number, due_on, False)])

    async def schedule_moves(self, moves: list[tuple[uuid.UUID, str, date, bool]]) -> None:
        """(cause, 宛名番号, 転出予定日, cancelled already) in one statement, each once."""
        if moves:
            await self.conn.execute(
                """INSERT INTO eligibility.scheduled_move (cause_event_id, atena_number, due_on, cancelled_at)
                   SELECT c, a, d, CASE WHEN x THEN clock_timestamp() END
                   FROM unnest($1::uuid[], $2::text[], $3::date[], $4::boolean[]) AS m(c, a, d, x)
                   ON CONFLICT (cause_event_id) DO NOTHING""",
                *(list(column) for column in zip(*moves, strict=True)),
            )

    async def cancel_scheduled_move(self, cause_event_id: uuid.UUID) -> bool:
        """異動の取消し of a 国外転出: marked cancelled even when the calendar already applied it (the derived
        history drops its loss either way)."""
        return bool(await self.cancel_scheduled_moves([cause_event_id]))

    async def cancel_scheduled_moves(self, cause_event_ids: list[uuid.UUID]) -> int:
        """Several 異動の取消し at once (see ``cancel_scheduled_move``); how many moves were cancelled."""
        if not cause_event_ids:
            return 0
        status: str = await self.conn.execute(
            "UPDATE eligibility.scheduled_move SET cancelled_at = clock_timestamp() "
            "WHERE cause_event_id = ANY($1::uuid[]) AND cancelled_at IS NULL",
            cause_event_ids,
        )
        return int(status.rsplit(" ", 1)[1])

    async def take_scheduled_move(self, cause_event_id: uuid.UUID) -> date | None:
        """The 転出日 of a scheduled move still to apply, marking it applied; None if cancelled or done."""
        due: date | None = await self.conn.fetchval(
            """UPDATE eligibility.scheduled_move SET applied_at = clock_timestamp()
               WHERE cause_event_id = $1 AND applied_at IS NULL AND cancelled_at IS NULL RETURNING due_on""",
            cause_event_id,
        )
        return due

    async def take_scheduled_moves(self, cause_event_ids: list[uuid.UUID]) -> None:
        """``take_scheduled_move`` for several moves at once."""
        if cause_event_ids:
            await self.conn.execute(
                """UPDATE eligibility.scheduled_move SET applied_at = clock_timestamp()
                   WHERE cause_event_id = ANY($1::uuid[]) AND applied_at IS NULL AND cancelled_at IS NULL""",
                cause_event_ids,
            )

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


PERSON_COLUMNS: Final = (
    "atena_number",
    "birth_date",
    "lives_in_japan",
    "is_resident",
    "resident_class",
    "nationality",
    "residence_status",
    "designated_activity",
    "my_number_sealed",
)
PersonColumns = tuple[str, date, bool, bool, str, str | None, str | None, str | None, str | None]
"""What a person change sets of the person row, in ``PERSON_COLUMNS`` order."""


def person_columns(event: PersonChanged, *, my_number_sealed: str | None = None) -> PersonColumns:
    """The person row's columns a person change sets (the sealed My Number: the event's, else ``my_number_sealed``)."""
    status = event.residence_status
    return (
        event.atena_number,
        event.birth_date,
        event.lives_in_japan,
        event.is_resident,
        event.resident_class.value,
        event.nationality,
        status.model_dump_json() if status else None,
        status.designated_activity if status else None,
        event.my_number_sealed or my_number_sealed,
    )


def record_of(row: Mapping[str, Any]) -> PersonRecord:
    return PersonRecord(_state(row), row["nationality"], row["my_number_sealed"], row["pension_fund_member"])


def record_after(stored: Mapping[str, Any], event: PersonChanged, my_number_sealed: str | None) -> PersonRecord:
    """The person as ``remember_person`` leaves them after ``event`` when the row held ``stored`` for what person
    changes do not set (年金基本, 第2号/第3号, …) and ``my_number_sealed`` before it: what ``person_columns`` sets
    read from the event as ``record_of`` reads it from the row (a batch applies thousands: no JSON round trip)."""
    status = event.residence_status
    return PersonRecord(
        PersonState(
            birth=event.birth_date,
            lives_in_japan=event.lives_in_japan,
            is_resident=event.is_resident,
            other_category=OtherCategoryStatus(stored["other_category"]),
            residence_status=status.status if status else None,
            designated_activity=status.designated_activity if status else None,
            can_receive_kosei_old_age_benefit=stored["can_receive_kosei_old_age_benefit"],
            basic_pension_number=stored["basic_pension_number"],
        ),
        event.nationality,
        event.my_number_sealed or my_number_sealed,
        stored["pension_fund_member"],
    )


@dataclass(frozen=True)
class PersonMet:
    known: bool
    my_number_sealed: str | None
    results_kept: bool  # JPS results kept before eligibility knew the person


FactRow = tuple[str, uuid.UUID, str, date, datetime, uuid.UUID | None, str | None, str | None]
"""(宛名番号, event id, kind, 異動日, recorded upstream at, cancels, 在留資格, 特定活動): a ``dated_fact`` row."""

VersionRow = tuple[uuid.UUID, str, str, date, str, date | None, str | None, uuid.UUID, uuid.UUID, str, bool]
"""A ``qualification_version`` row to add: (period, 宛名番号, 種別, 取得日, 取得事由, 喪失日, 喪失事由, cause,
published event, change kind, superseded by a later change of the same batch)."""


def version_row(
    atena_number: str, change: PeriodChange, cause_event_id: uuid.UUID, published_event_id: uuid.UUID
) -> VersionRow:
    assert change.period_id is not None
    p = change.period
    return (
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
        False,
    )


FactOrder = tuple[datetime, date, uuid.UUID]


def fact_order(row: FactRow) -> FactOrder:
    """A fact's place among the person's facts (``facts``): as recorded upstream, then 異動日, then event id
    (uuids order alike in Python and PostgreSQL: by their bytes)."""
    return row[4], row[3], row[1]


def dated_fact(row: FactRow) -> DatedFact:
    _, event_id, kind, on, source_recorded_at, cancels, residence_status, designated_activity = row
    return DatedFact(
        event_id=event_id,
        kind=_fact_kind(kind),
        on=on,
        recorded_on=source_recorded_at.astimezone(JST).date(),
        cancels=cancels,
        residence_status=residence_status,
        designated_activity=designated_activity,
    )


def _fact_kind(value: str) -> FactKind:
    try:
        return PersonChange(value)
    except ValueError:
        return CalendarFactKind(value)


def _year_month(text: str) -> YearMonth:
    year, month = text.split("-")
    return YearMonth(int(year), int(month))
