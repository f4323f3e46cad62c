"""継続審査 (continuation screening): every July, the persons approved for 全額免除 or 納付猶予 in the 年度 that
just ended who asked for continuation (継続審査の希望) are screened again, for the new 年度, on the new income
year — as one batch, with a report.

The rules are the stream path's (screen_year, validate, household_of); what differs is only how the facts are
read: in a few set-based queries for the whole population instead of per application. Each continuation is an
application of its own (受付番号 derived from the approved one and the year, 受付日 1 July), so a rerun of the
same year finds them all done and changes nothing. "Approved" is read as: JPS approved 全額免除 or 納付猶予
(審査結果 承認, jps_decision.py), or — from a 処理結果一覧表 without a 審査結果 column — the current screening
passed at 全額 or 猶予 and JPS processed the report [unconfirmed] (``TIER_IN_FORCE``).
"""

from __future__ import annotations

import gc
import json
import uuid
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime

import asyncpg
from kokunen_common.ids import derived_id
from kokunen_common.messaging import Delivery, UnitOfWork
from kokunen_common.outbox import OutboxBuffer
from kokunen_contracts import counter as c
from kokunen_contracts import eligibility as e
from kokunen_contracts.envelope import now
from kokunen_contracts.registry import EXEMPTION_CONTINUATION_RUN, EXEMPTION_SCREENED, JPS_REPORT_DUE

from ..domain.categories import InsuredCategory
from ..domain.periods import QualificationHistory, QualificationPeriod
from ..domain.qualification import AcquisitionReason, LossReason
from .applications import validate
from .handlers import application_of, jps_report, screened_event
from .household import household_of
from .periods import ScreeningYear
from .repository import BATCH_LOCK, TIER_IN_FORCE, ExemptionRepository, income_figures
from .screening import Tier, persons_checked, screen_year

CONTINUED_DECISIONS = ("full_exemption", "payment_deferral")

CANDIDATES = (
    """
    SELECT a.application_id, a.atena_number, a.kind, a.payload->>'department' AS department
    FROM eligibility.exemption_application a
    LEFT JOIN eligibility.exemption_screening s ON s.application_id = a.application_id AND s.superseded_at IS NULL
    WHERE a.continuation AND a.kind IN ('exemption', 'payment_deferral') AND a.jps_outcome = 'processed'
      AND """
    + TIER_IN_FORCE
    + """ = ANY($3::text[]) AND a.first_month BETWEEN $1 AND $2
      AND NOT EXISTS (SELECT 1 FROM eligibility.exemption_application done
                      WHERE done.continues_application_id = a.application_id AND done.first_month = $4)"""
)

PERSONS = """
    SELECT atena_number, birth_date, my_number_sealed, basic_pension_number FROM eligibility.person
    WHERE atena_number = ANY($1::text[])"""

HISTORIES = """
    SELECT atena_number, category, acquired_on, acquisition_reason, lost_on, loss_reason
    FROM eligibility.qualification_version WHERE superseded_at IS NULL AND atena_number = ANY($1::text[])"""

INCOMES = """
    SELECT DISTINCT ON (atena_number) atena_number, figures::text AS figures FROM eligibility.income
    WHERE income_year = $1 AND atena_number = ANY($2::text[])
    ORDER BY atena_number, correction_seq DESC, recorded_at DESC"""


APPLICATION_COLUMNS = (
    "application_id",
    "event_id",
    "atena_number",
    "kind",
    "received_on",
    "first_month",
    "last_month",
    "continuation",
    "status",
    "payload",
)
"""The columns of eligibility.exemption_application every application fills."""

CHUNK = 5_000
"""Candidates continued at a time (one transaction for the whole run; memory of one chunk)."""


@dataclass
class _Counts:
    outcomes: Counter[str]
    decisions: Counter[str]
    refusals: Counter[str]
    at: datetime  # one recorded_at for the run: the outbox encodes the headers once per value


@dataclass
class ContinuationReport:
    """What the batch did, for the staff who run it in July (counts only: no personal data)."""

    year: int
    candidates: int = 0
    screened: int = 0
    refused: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    decisions: dict[str, int] = field(default_factory=dict)
    refusals: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)


def _history(rows: list[asyncpg.Record]) -> QualificationHistory:
    return QualificationHistory(
        tuple(
            QualificationPeriod(
                InsuredCategory(r["category"]),
                r["acquired_on"],
                AcquisitionReason(r["acquisition_reason"]),
                r["lost_on"],
                LossReason(r["loss_reason"]) if r["loss_reason"] else None,
            )
            for r in rows
        )
    )


RUN_NAMESPACE = uuid.UUID("5b1d2f0e-8c4a-4e55-9f3b-2a6c7d8e9f10")


def continuation_run(year: int) -> e.ExemptionContinuationRun:
    """The record of a run, with an id of its own per year (a rerun announces the same event)."""
    run_on = date(year, 7, 1)
    return e.ExemptionContinuationRun(
        event_id=uuid.uuid5(RUN_NAMESPACE, f"continuation/{year}"), effective_date=run_on, recorded_at=now(), year=year
    )


async def on_continuation_run(delivery: Delivery[e.ExemptionContinuationRun], uow: UnitOfWork) -> None:
    """A run read back from Kafka: live, everything is already done (no candidate is left); on a replay, the
    slice is rebuilt up to this point and the run redoes the same continuations with the same ids."""
    await run_continuation(uow.conn, delivery.event.year, announce=False)


async def run_continuation(conn: asyncpg.Connection, year: int, *, announce: bool = True) -> ContinuationReport:
    """Screen every continuation due for the 年度 starting in July of ``year``, in one transaction; ``announce``
    records the run on Kafka (eligibility.exemption-continuation-run.v1) so that a replay can redo it."""
    screening_year = ScreeningYear.JULY_TO_JUNE
    first, _ = screening_year.months_of(year)
    before_first, before_last = screening_year.months_of(year - 1)
    report = ContinuationReport(year)
    async with conn.transaction():
        # Incomes arriving meanwhile wait for the batch (they take this lock shared): none is missed.
        await conn.execute("SELECT pg_advisory_xact_lock($1)", BATCH_LOCK)
        candidates = await conn.fetch(
            CANDIDATES, str(before_first), str(before_last), list(CONTINUED_DECISIONS), str(first)
        )
        report.candidates = len(candidates)
        if announce:
            run = OutboxBuffer(schema="eligibility", source="/kokunen/eligibility")
            run.publish(EXEMPTION_CONTINUATION_RUN, continuation_run(year), traced=False)
            await run.flush(conn, skip_duplicates=True)
        if not candidates:
            return report
        counts = _Counts(Counter(), Counter(), Counter(), now())
        # The objects of a chunk hold no cycles worth collecting mid-chunk: collect once per chunk instead of
        # letting the collector rescan a heap of tens of thousands of events again and again.
        collecting = gc.isenabled()
        gc.disable()
        try:
            for offset in range(0, len(candidates), CHUNK):
                await _continue_chunk(conn, list(candidates[offset : offset + CHUNK]), year, counts)
                gc.collect()
        finally:
            if collecting:
                gc.enable()
    report.refused = counts.outcomes.get("refused", 0)
    report.screened = sum(counts.outcomes.values()) - report.refused
    report.outcomes = dict(sorted(counts.outcomes.items()))
    report.decisions = dict(sorted(counts.decisions.items()))
    report.refusals = dict(sorted(counts.refusals.items()))
    return report


async def _continue_chunk(
    conn: asyncpg.Connection,
    chunk: list[asyncpg.Record],
    year: int,
    counts: _Counts,
) -> None:
    """Continue one chunk of the candidates: its facts read set-based, every application validated and screened,
    its rows and events written (COPY) — so that memory stays that of one chunk, whatever the population."""
    screening_year = ScreeningYear.JULY_TO_JUNE
    first, last = screening_year.months_of(year)
    applied_on = first.first_day
    income_year = screening_year.income_year_of(first)
    outbox = OutboxBuffer(schema="eligibility", source="/kokunen/eligibility")
    outcomes, decisions, refusal_counts, recorded_at = counts.outcomes, counts.decisions, counts.refusals, counts.at
    applicants = [r["atena_number"] for r in chunk]
    persons = {r["atena_number"]: r for r in await conn.fetch(PERSONS, applicants)}
    histories: dict[str, list[asyncpg.Record]] = defaultdict(list)
    for row in await conn.fetch(HISTORIES, applicants):
        histories[row["atena_number"]].append(row)
    members = await ExemptionRepository(conn).household_members(applicants, applied_on)
    households = {a: household_of(a, members[a]) for a in applicants}
    everyone = {p for a in applicants for _, p in persons_checked(a, households[a], Tier.FULL)}
    incomes = {
        r["atena_number"]: income_figures(income_year, json.loads(r["figures"]))
        for r in await conn.fetch(INCOMES, income_year, sorted(everyone))
    }

    applications: list[tuple[object, ...]] = []
    screenings: list[tuple[object, ...]] = []
    screened_events: list[e.ExemptionScreened] = []
    reports: list[e.JpsReportDue] = []
    for row in chunk:
        new_id = derived_id(row["application_id"], "continuation", year)
        # Built from validated parts (the approved application, the year): no need to parse it again.
        submitted = c.ExemptionApplicationSubmitted.model_construct(
            event_id=derived_id(new_id, "submitted"),
            effective_date=applied_on,
            recorded_at=recorded_at,
            application_id=new_id,
            kind=e.ExemptionApplicationKind(row["kind"]),
            atena_number=row["atena_number"],
            received_on=applied_on,
            staff_id="continuation",  # 継続審査: no counter, the batch
            department=row["department"],
            first_month=str(first),
            last_month=str(last),
            requested_tier=None,
            spouse_atena_number=None,  # the resident record of 1 July, not last year's form
            school_name=None,
            job_losses=[],  # a 特例 is claimed anew, never carried over
            continuation=True,
        )
        application = application_of(submitted)
        person = persons.get(row["atena_number"])
        household = households[row["atena_number"]]
        refusals = (
            validate(application, person["birth_date"], _history(histories[row["atena_number"]])) if person else ()
        )
        screening = None
        if not refusals:
            screening = screen_year(
                application.kind,
                application.applicant,
                first,
                last,
                household=household,
                household_on=applied_on,
                income_of=lambda atena, _y: incomes.get(atena),
            )
        event = screened_event(
            derived_id(new_id, "exemption-screened"), submitted, screening, refusals, recorded_at=recorded_at
        )
        screened_events.append(event)
        outcomes[event.outcome.value] += 1
        if event.decision:
            decisions[event.decision.value] += 1
        for refusal in refusals:
            refusal_counts[refusal.reason.value] += 1
        applications.append(
            (
                new_id,
                submitted.event_id,
                submitted.atena_number,
                submitted.kind.value,
                applied_on,
                str(first),
                str(last),
                True,
                "refused" if refusals else "screened",
                submitted.model_dump_json(),
                row["application_id"],
            )
        )
        persons_read = [p for _, p in persons_checked(application.applicant, household, Tier.FULL)]
        screenings.append(
            (
                event.event_id,
                new_id,
                event.event_id,
                event.outcome.value,
                event.decision.value if event.decision else None,
                event.income_year,
                applied_on if screening else None,
                json.dumps({"householder": household.householder, "spouse": household.spouse}) if screening else None,
                sorted(set(persons_read)) if screening else [],
                event.model_dump_json(include={"checks", "explanation", "refusals"}),
            )
        )
        if screening is not None and person is not None:
            reports.append(
                jps_report(
                    derived_id(new_id, "jps-report-due"),
                    submitted,
                    application,
                    screening,
                    my_number_sealed=person["my_number_sealed"],
                    basic_pension_number=person["basic_pension_number"],
                    recorded_at=recorded_at,
                )
            )
    await conn.copy_records_to_table(
        "exemption_application",
        schema_name="eligibility",
        columns=(*APPLICATION_COLUMNS, "continues_application_id"),
        records=applications,
    )
    await conn.copy_records_to_table(
        "exemption_screening",
        schema_name="eligibility",
        columns=(
            "event_id",
            "application_id",
            "cause_event_id",
            "outcome",
            "decision",
            "income_year",
            "household_on",
            "household",
            "persons",
            "result",
        ),
        records=screenings,
    )
    outbox.publish_batch(EXEMPTION_SCREENED, screened_events)
    outbox.publish_batch(JPS_REPORT_DUE, reports)
    await outbox.flush(conn)
