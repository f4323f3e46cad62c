"""Service layer of eligibility: load a person's history, let the law decide, store the difference and
announce it — qualification changes, JPS reports due, filing outcomes, 付加 changes — in one transaction."""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

import asyncpg
from kokunen_common.ids import derived_id
from kokunen_common.messaging import Delivery, UnitOfWork
from kokunen_common.telemetry import current_context, resumed
from kokunen_contracts import counter as c
from kokunen_contracts import eligibility as e
from kokunen_contracts.envelope import Event, now
from kokunen_contracts.jps import JpsProcessingResult
from kokunen_contracts.registry import (
    ADDITIONAL_PREMIUM_CHANGED,
    FILING_OUTCOME,
    JPS_REPORT_DUE,
    QUALIFICATION_CHANGED,
)
from kokunen_contracts.residency import PersonChanged, PersonChangeKind
from opentelemetry.context import Context

from .adapters.repository import (
    EligibilityRepository,
    FactOrder,
    FactRow,
    PersonMet,
    PersonRecord,
    VersionRow,
    dated_fact,
    fact_order,
    person_columns,
    record_after,
    record_of,
    version_row,
)
from .claims.handlers import claims_on_death
from .domain import filings as f
from .domain import jps_results
from .domain import residency_effects as effects
from .domain.categories import InsuredCategory
from .domain.dated_facts import DatedFact, derive_history
from .domain.history_diff import ChangeKind, PeriodChange, StoredPeriod, diff, stored_history
from .domain.qualification import AcquisitionReason, LossReason
from .exemptions.handlers import premium_status_on, record_jps_result, remember_household
from .exemptions.repository import ExemptionRepository

JST = ZoneInfo("Asia/Tokyo")
E = TypeVar("E", bound=Event)


def today_in_japan(at: datetime | None = None) -> date:
    return (at or datetime.now(JST)).astimezone(JST).date()


# Changes the city reports to JPS on its own initiative (進達): those it learned from the resident record.
# 20歳到達 is enrolled by JPS itself from 住基ネット (since 2019-10) and 60歳到達 is a matter of age, so
# neither is reported.
_REPORTED_ACQUISITIONS = {AcquisitionReason.MOVED_IN_FROM_ABROAD, AcquisitionReason.CEASED_EXCLUSION}
_REPORTED_LOSSES = {LossReason.DEATH, LossReason.MOVED_ABROAD, LossReason.BECAME_EXCLUDED}


def report_for_resident_change(change: PeriodChange) -> e.JpsReportKind | None:
    period = change.period
    match change.kind:
        case ChangeKind.ACQUIRED if period.acquisition_reason in _REPORTED_ACQUISITIONS:
            return e.JpsReportKind.QUALIFICATION_ACQUISITION
        case ChangeKind.LOST if period.loss_reason in _REPORTED_LOSSES:
            return e.JpsReportKind.QUALIFICATION_LOSS
        case ChangeKind.CORRECTED | ChangeKind.CANCELLED:
            return e.JpsReportKind.RECORD_CORRECTION
    return None


@dataclass(frozen=True)
class Announced:
    """One change of a history as it is stored (its period named) and announced."""

    change: PeriodChange
    event: e.QualificationChanged
    report: e.JpsReportDue | None


def announced_history(
    atena_number: str,
    person: PersonRecord,
    changes: list[PeriodChange],
    *,
    cause_event_id: uuid.UUID,
    report: Callable[[PeriodChange], e.JpsReportKind | None],
    received_on: date,
) -> list[Announced]:
    """Each change named and announced (and its JPS report, if any)."""
    out: list[Announced] = []
    for n, change in enumerate(changes):
        # Ids derive from the cause, so a redelivery, a rerun or a replay names everything the same.
        event_id = derived_id(cause_event_id, "qualification-changed", n)
        if change.period_id is None:
            change = replace(change, period_id=derived_id(cause_event_id, "period", n))
        period = change.period
        event = e.QualificationChanged(
            event_id=event_id,
            effective_date=period.lost_on if change.kind is ChangeKind.LOST and period.lost_on else period.acquired_on,
            recorded_at=now(),
            atena_number=atena_number,
            kind=e.QualificationChangeKind(change.kind.value),
            period_id=change.period_id,
            category=e.InsuredCategory(period.category.value),
            acquired_on=period.acquired_on,
            acquisition_reason=e.AcquisitionReason(period.acquisition_reason.value),
            lost_on=period.lost_on,
            loss_reason=e.LossReason(period.loss_reason.value) if period.loss_reason else None,
            basic_pension_number=person.state.basic_pension_number,
            cause_event_id=cause_event_id,
            replaces_event_id=change.replaces_event_id,
            my_number_sealed=person.my_number_sealed,
        )
        kind = report(change)
        due = (
            None
            if kind is None
            else jps_report(kind, atena_number, person, received_on, change, cause=derived_id(event_id, "jps-report"))
        )
        out.append(Announced(change, event, due))
    return out


def publish_announced(uow: UnitOfWork, announced: Announced) -> None:
    uow.publish(QUALIFICATION_CHANGED, announced.event)
    if announced.report is not None:
        uow.publish(JPS_REPORT_DUE, announced.report)


async def announce_history(
    uow: UnitOfWork,
    repo: EligibilityRepository,
    atena_number: str,
    person: PersonRecord,
    changes: list[PeriodChange],
    *,
    cause_event_id: uuid.UUID,
    report: Callable[[PeriodChange], e.JpsReportKind | None],
    received_on: date,
) -> list[uuid.UUID]:
    """Store each change as a new version and publish it (and its JPS report, if any); event ids."""
    published: list[uuid.UUID] = []
    for announced in announced_history(
        atena_number, person, changes, cause_event_id=cause_event_id, report=report, received_on=received_on
    ):
        await repo.record_change(
            atena_number, announced.change, cause_event_id=cause_event_id, published_event_id=announced.event.event_id
        )
        publish_announced(uow, announced)
        published.append(announced.event.event_id)
    return published


def jps_report(
    kind: e.JpsReportKind,
    atena_number: str,
    person: PersonRecord,
    received_on: date,
    change: PeriodChange | None = None,
    *,
    cause: uuid.UUID,
    report_id: uuid.UUID | None = None,
    note: str | None = None,
) -> e.JpsReportDue:
    period = change.period if change else None
    return e.JpsReportDue(
        event_id=derived_id(cause, "event"),
        effective_date=(period.lost_on or period.acquired_on) if period else received_on,
        recorded_at=now(),
        report_id=report_id or derived_id(cause, "report"),
        report_kind=kind,
        atena_number=atena_number,
        my_number_sealed=person.my_number_sealed,
        basic_pension_number=person.state.basic_pension_number,
        received_on=received_on,
        category=e.InsuredCategory(period.category.value) if period else None,
        acquired_on=period.acquired_on if period else None,
        acquisition_reason=e.AcquisitionReason(period.acquisition_reason.value) if period else None,
        lost_on=period.lost_on if period else None,
        loss_reason=e.LossReason(period.loss_reason.value) if period and period.loss_reason else None,
        note=note,
    )


# --- resident-record changes and calendar facts ---------------------------------------------------

# Calendar facts are named by (宛名番号, fact, day): the scheduler and the derivation name them alike.
FACT_NAMESPACE = uuid.UUID("5b0b6f0e-2a55-4a8e-9d3f-0c6e1c7a2b91")


def fact_id(atena_number: str, fact: e.CalendarFactKind, day: date, scheduled_by: uuid.UUID | None = None) -> uuid.UUID:
    return uuid.uuid5(FACT_NAMESPACE, f"{atena_number}/{fact.value}/{day.isoformat()}/{scheduled_by or ''}")


def person_fact(event: PersonChanged) -> FactRow:
    """The dated fact a person change is kept as."""
    status = event.residence_status
    return (
        event.atena_number,
        event.event_id,
        event.kind.value,
        event.effective_date,
        event.recorded_at,
        event.cancels_event_id,
        status.status if status else None,
        status.designated_activity if status else None,
    )


def calendar_fact_row(fact: e.CalendarFact) -> FactRow:
    """The dated fact a calendar fact is kept as."""
    return (fact.atena_number, fact.event_id, fact.fact.value, fact.effective_date, fact.recorded_at, None, None, None)


async def on_person_changed(delivery: Delivery[PersonChanged], uow: UnitOfWork) -> None:
    """人の異動の反映: kept as a dated fact, then the person's history is derived again from all of them
    (dated_facts.py: 国外転入 → 取得 8条2号, 死亡 → 翌日喪失 9条1号, 国外転出 → 翌日喪失 on its date 9条2号,
    20歳・60歳到達 8条1号・9条3号, 在留資格 → 適用除外, 取消し → the change is void), so a late or cancelled
    change ends in the history its dates give; 職権消除 → 住所不明候補."""
    event = delivery.event
    repo = EligibilityRepository(uow.conn)
    await repo.lock_arrivals([event.atena_number])
    before = await repo.person(event.atena_number)
    person = await repo.remember_person(event)
    await remember_household(uow, event)
    if before is None:
        person = await apply_results_kept_before_the_person(repo, person, event.atena_number)
    await repo.keep_facts([person_fact(event)])
    if event.cancels_event_id is not None:
        await repo.cancel_scheduled_move(event.cancels_event_id)
    follow = effects.follow_ups(effects.PersonChange(event.kind.value), event.effective_date, today_in_japan())
    if follow.schedule_move_abroad_on is not None:
        await repo.schedule_move(event.atena_number, follow.schedule_move_abroad_on, event.event_id)
    if follow.flag_address_unknown:
        await repo.flag_address_unknown(event.atena_number)
    await derive_and_announce(uow, repo, event.atena_number, person, delivery.event_id, today_in_japan())
    await claims_on_death(uow, event)


async def on_calendar_fact(delivery: Delivery[e.CalendarFact], uow: UnitOfWork) -> None:
    """暦による事実: 20歳到達 (8条1号), 60歳到達 (9条3号), 転出予定日の到来 (9条2号) — the day has come, so
    the history is derived again with it."""
    fact = delivery.event
    repo = EligibilityRepository(uow.conn)
    person = await repo.person(fact.atena_number)
    if person is None:
        return  # nobody to apply it to (the person left the slice before the day came)
    if fact.fact is e.CalendarFactKind.MOVE_ABROAD_EFFECTIVE:
        assert fact.scheduled_by_event_id is not None
        await repo.take_scheduled_move(fact.scheduled_by_event_id)
    await repo.keep_facts([calendar_fact_row(fact)])
    await derive_and_announce(uow, repo, fact.atena_number, person, delivery.event_id, fact.effective_date)


async def derive_and_announce(
    uow: UnitOfWork,
    repo: EligibilityRepository,
    atena_number: str,
    person: PersonRecord,
    cause_event_id: uuid.UUID,
    received_on: date,
) -> None:
    """Derive the person's history from their facts as of today and publish how it differs from the one
    published before (corrections and cancellations name what they replace)."""
    stored = await repo.history(atena_number)
    changes = derived_changes(
        atena_number,
        await repo.facts(atena_number),
        person,
        stored,
        await repo.given_period_ids([atena_number]),
        today_in_japan(),
    )
    await announce_history(
        uow,
        repo,
        atena_number,
        person,
        changes,
        cause_event_id=cause_event_id,
        report=report_for_resident_change,
        received_on=received_on,
    )


def derived_changes(
    atena_number: str,
    facts: list[DatedFact],
    person: PersonRecord,
    stored: list[StoredPeriod],
    given: set[uuid.UUID],
    today: date,
) -> list[PeriodChange]:
    """How the history the facts give as of ``today`` differs from the stored one (ADR 0006)."""
    new = derive_history(facts, person.state, today, [s.period for s in stored if s.period_id in given])
    return [
        # A period begun by 20歳到達 is named after the calendar's fact, whichever event derived it first.
        replace(
            change,
            period_id=derived_id(fact_id(atena_number, e.CalendarFactKind.REACHED_20, p.acquired_on), "period", 0),
        )
        if change.period_id is None and (p := change.period).acquisition_reason is AcquisitionReason.REACHED_20
        else change
        for change in diff(stored, new)
    ]


@dataclass(frozen=True)
class _Gathered(Generic[E]):
    delivery: Delivery[E]
    context: Context  # the message's trace context: its effects are published in its own trace


@dataclass
class _BatchWrites:
    """What a batch's changes leave to store, gathered person by person and stored by one statement per kind."""

    facts: list[FactRow] = field(default_factory=list)
    superseded_stored: list[int] = field(default_factory=list)
    versions: list[VersionRow] = field(default_factory=list)
    superseded_here: set[int] = field(default_factory=set)  # indexes into versions

    async def store(self, repo: EligibilityRepository) -> None:
        await repo.keep_facts(self.facts)
        await repo.record_changes(
            self.superseded_stored,
            [(*v[:-1], n in self.superseded_here) for n, v in enumerate(self.versions)],
        )


@dataclass
class _PersonPlan:
    """One person's changes of a batch applied in memory, as the per-event handlers apply them one by one."""

    atena_number: str
    person: asyncpg.Record  # the row as the batch leaves it (what person changes do not set is as stored)
    my_number_sealed: str | None  # before the next change
    facts: list[tuple[FactOrder, DatedFact]]
    stored: list[StoredPeriod]

    def derive(
        self,
        writes: _BatchWrites,
        fact: FactRow,
        person: PersonRecord,
        *,
        cause_event_id: uuid.UUID,
        received_on: date,
        given: set[uuid.UUID],
        today: date,
    ) -> list[Announced]:
        """Keep ``fact`` (once), derive the history from all the person's facts so far as ``derive_and_announce``
        does, and note the versions it stores; what it announces."""
        if all(f.event_id != fact[1] for _, f in self.facts):
            writes.facts.append(fact)
            bisect.insort(self.facts, (fact_order(fact), dated_fact(fact)), key=lambda kept: kept[0])
        atena = self.atena_number
        changes = derived_changes(atena, [f for _, f in self.facts], person, self.stored, given, today)
        out = announced_history(
            atena,
            person,
            changes,
            cause_event_id=cause_event_id,
            report=report_for_resident_change,
            received_on=received_on,
        )
        for one in out:
            old = one.change.supersedes_version_id
            if old is not None:
                if old >= 0:
                    writes.superseded_stored.append(old)
                else:
                    writes.superseded_here.add(-old - 1)
                self.stored = [s for s in self.stored if s.version_id != old]
            if one.change.removed:
                continue
            writes.versions.append(version_row(atena, one.change, cause_event_id, one.event.event_id))
            assert one.change.period_id is not None
            # A version added here is named -(its index + 1) until it is stored.
            kept = StoredPeriod(one.change.period, one.change.period_id, -len(writes.versions), one.event.event_id)
            self.stored = sorted([*self.stored, kept], key=_stored_order)
        return out


def _stored_order(stored: StoredPeriod) -> tuple[date, bool, int]:
    """``history``'s order: by 資格取得日, then as stored (versions added in this batch after those stored)."""
    return stored.period.acquired_on, stored.version_id < 0, abs(stored.version_id)


def _publish_in_order(
    uow: UnitOfWork, gathered: list[_Gathered[Any]], announced: dict[uuid.UUID, list[Announced]]
) -> None:
    """Each message's announcements in arrival order, in the message's own trace."""
    for item in gathered:
        out = announced.get(item.delivery.event_id)
        if out:
            with resumed(item.context):
                for one in out:
                    publish_announced(uow, one)


class PersonChangesBatchHandler:
    """人の異動の反映, a polled batch at once (the stream path, issue 12; ADR 0007).

    Each message is gathered with its trace context; ``finish_batch`` locks the batch's persons and reads their
    dated facts, current periods and given periods in one statement per kind, then applies each change in memory
    exactly as ``on_person_changed`` does — the person row it leaves, the fact it keeps, ``derived_changes``
    from all the person's facts so far, ``announced_history`` — and writes the persons, facts, households,
    scheduled moves and versions by one multi-row statement each. A person with a 死亡 in the batch (its
    claims follow-up reads the stored record) or met for the first time while JPS results wait for them is
    applied by ``on_person_changed``, change by change, in arrival order; no other person shares anything with
    them."""

    async def __call__(self, delivery: Delivery[PersonChanged], uow: UnitOfWork) -> None:
        uow.batch.setdefault("person_changes", []).append(_Gathered(delivery, current_context()))

    async def finish_batch(self, uow: UnitOfWork) -> None:
        gathered: list[_Gathered[PersonChanged]] = uow.batch.pop("person_changes", [])
        if not gathered:
            return
        repo = EligibilityRepository(uow.conn)
        today = today_in_japan()
        by_person: dict[str, list[PersonChanged]] = {}
        for item in gathered:
            by_person.setdefault(item.delivery.event.atena_number, []).append(item.delivery.event)
        await repo.lock_arrivals(list(by_person))
        met = await repo.persons_met(sorted(by_person))
        one_by_one = {
            atena
            for atena, events in by_person.items()
            if any(event.kind is PersonChangeKind.DIED for event in events)
            or (not met[atena].known and met[atena].results_kept)
        }
        planned = sorted(atena for atena in by_person if atena not in one_by_one)
        announced: dict[uuid.UUID, list[Announced]] = {}
        if planned:
            announced = await self._apply_in_memory(uow, repo, {a: by_person[a] for a in planned}, met, today)
        if not one_by_one:
            _publish_in_order(uow, gathered, announced)
            return
        for item in gathered:
            with resumed(item.context):
                if item.delivery.event.atena_number in one_by_one:
                    await on_person_changed(item.delivery, uow)
                    continue
                for one in announced.get(item.delivery.event_id, []):
                    publish_announced(uow, one)

    @staticmethod
    async def _apply_in_memory(
        uow: UnitOfWork,
        repo: EligibilityRepository,
        by_person: dict[str, list[PersonChanged]],
        met: dict[str, PersonMet],
        today: date,
    ) -> dict[uuid.UUID, list[Announced]]:
        """Apply the persons' changes (none of them one by one): what each change announces, by its event id."""
        atenas = list(by_person)
        # The person row as the last change leaves it; its sealed My Number the last one given.
        last_sealed: dict[str, str | None] = {}
        for atena, events in by_person.items():
            last_sealed[atena] = met[atena].my_number_sealed
            for event in events:
                last_sealed[atena] = event.my_number_sealed or last_sealed[atena]
        rows = await repo.remember_persons(
            [person_columns(events[-1], my_number_sealed=last_sealed[a]) for a, events in by_person.items()]
        )
        # A person eligibility did not know has no facts, periods or given periods yet (each is kept with or after
        # the person's row): only those it knew are read — none at all in a replay into an empty slice.
        known = [a for a in atenas if met[a].known]
        facts = await repo.ordered_facts(known)
        histories = await repo.histories(known)
        given = await repo.given_period_ids(known)

        writes = _BatchWrites()
        cancelled_stored: list[uuid.UUID] = []
        moves: dict[uuid.UUID, list[Any]] = {}  # cause → [cause, 宛名番号, 転出予定日, cancelled]
        address_unknown: list[str] = []
        announced: dict[uuid.UUID, list[Announced]] = {}
        for atena, events in by_person.items():
            plan = _PersonPlan(
                atena, rows[atena], met[atena].my_number_sealed, facts.get(atena, []), histories.get(atena, [])
            )
            for event in events:
                person = record_after(plan.person, event, plan.my_number_sealed)
                plan.my_number_sealed = person.my_number_sealed
                if event.cancels_event_id is not None:
                    # One by one, a cancellation finds only the moves scheduled before it.
                    if event.cancels_event_id in moves:
                        moves[event.cancels_event_id][3] = True
                    else:
                        cancelled_stored.append(event.cancels_event_id)
                follow = effects.follow_ups(effects.PersonChange(event.kind.value), event.effective_date, today)
                if follow.schedule_move_abroad_on is not None:
                    moves.setdefault(event.event_id, [event.event_id, atena, follow.schedule_move_abroad_on, False])
                if follow.flag_address_unknown:
                    address_unknown.append(atena)
                announced[event.event_id] = plan.derive(
                    writes,
                    person_fact(event),
                    person,
                    cause_event_id=event.event_id,
                    received_on=today,
                    given=given,
                    today=today,
                )
        await ExemptionRepository(uow.conn).remember_households([e for events in by_person.values() for e in events])
        # Before the batch's own moves are added: a cancellation arriving before its move does not cancel it.
        await repo.cancel_scheduled_moves(cancelled_stored)
        await repo.schedule_moves([(m[0], m[1], m[2], m[3]) for m in moves.values()])
        await repo.flag_addresses_unknown(address_unknown)
        await writes.store(repo)
        return announced


class CalendarFactsBatchHandler:
    """暦による事実, a polled batch at once (the stream path, issue 12; ADR 0007): ``finish_batch`` locks the
    batch's persons and reads their rows, dated facts, current periods and given periods in one statement per
    kind, applies each fact in memory as ``on_calendar_fact`` does (a person unknown to the slice is skipped; a
    転出予定日 takes its scheduled move), and writes the facts, taken moves and versions by one statement each."""

    async def __call__(self, delivery: Delivery[e.CalendarFact], uow: UnitOfWork) -> None:
        uow.batch.setdefault("calendar_facts", []).append(_Gathered(delivery, current_context()))

    async def finish_batch(self, uow: UnitOfWork) -> None:
        gathered: list[_Gathered[e.CalendarFact]] = uow.batch.pop("calendar_facts", [])
        if not gathered:
            return
        repo = EligibilityRepository(uow.conn)
        today = today_in_japan()
        by_person: dict[str, list[_Gathered[e.CalendarFact]]] = {}
        for item in gathered:
            by_person.setdefault(item.delivery.event.atena_number, []).append(item)
        rows = await repo.persons(sorted(by_person))
        known = [atena for atena in by_person if atena in rows]
        facts = await repo.ordered_facts(known)
        histories = await repo.histories(known)
        given = await repo.given_period_ids(known)
        writes = _BatchWrites()
        taken: list[uuid.UUID] = []
        announced: dict[uuid.UUID, list[Announced]] = {}
        for atena in known:
            plan = _PersonPlan(atena, rows[atena], rows[atena]["my_number_sealed"], facts[atena], histories[atena])
            person = record_of(rows[atena])
            for item in by_person[atena]:
                fact = item.delivery.event
                if fact.fact is e.CalendarFactKind.MOVE_ABROAD_EFFECTIVE:
                    assert fact.scheduled_by_event_id is not None
                    taken.append(fact.scheduled_by_event_id)
                announced[item.delivery.event_id] = plan.derive(
                    writes,
                    calendar_fact_row(fact),
                    person,
                    cause_event_id=item.delivery.event_id,
                    received_on=fact.effective_date,
                    given=given,
                    today=today,
                )
        await repo.take_scheduled_moves(taken)
        await writes.store(repo)
        _publish_in_order(uow, gathered, announced)


# --- JPS processing results ----------------------------------------------------------------------


async def on_jps_processing_result(delivery: Delivery[JpsProcessingResult], uow: UnitOfWork) -> None:
    """処理結果一覧表の突合結果: keep it, open a follow-up where staff must act, and take the 基礎年金番号
    JPS used (国民年金法14条) when ＜年金基本＞ lacks it — a different one is never overwritten silently."""
    result = delivery.event
    repo = EligibilityRepository(uow.conn)
    await repo.lock_arrivals([result.atena_number])
    person = await repo.person(result.atena_number)
    decision = jps_results.decide(
        jps_results.Reconciliation(result.reconciliation.value),
        jps_results.JpsOutcome(result.jps_outcome.value),
        result.basic_pension_number,
        person.state.basic_pension_number if person else None,
    )
    await record_jps_result(uow, result)
    taken = person is not None and decision.take_pension_number is not None
    if taken:
        await repo.update_pension_basics(result.atena_number, basic_pension_number=decision.take_pension_number)
    await repo.keep_jps_result(
        result,
        decision.follow_up.value if decision.follow_up else None,
        pension_number_taken=taken,
        known_person=person is not None,
    )


async def apply_results_kept_before_the_person(
    repo: EligibilityRepository, person: PersonRecord, atena_number: str
) -> PersonRecord:
    """A person met for the first time takes what JPS results kept for them say, as if the results had
    come after the person — so the slice does not depend on which topic was read first (and a replay,
    which reads in time order, rebuilds the same)."""
    for row in await repo.results_kept_before_the_person(atena_number):
        decision = jps_results.decide(
            jps_results.Reconciliation(row["reconciliation"]),
            jps_results.JpsOutcome(row["jps_outcome"]),
            row["jps_pension_number"],
            person.state.basic_pension_number,
        )
        if decision.take_pension_number is not None:
            await repo.update_pension_basics(atena_number, basic_pension_number=decision.take_pension_number)
            person = replace(person, state=replace(person.state, basic_pension_number=decision.take_pension_number))
        await repo.settle_jps_result(
            row["event_id"],
            decision.follow_up.value if decision.follow_up else None,
            pension_number_taken=decision.take_pension_number is not None,
        )
    return person


# --- filings -------------------------------------------------------------------------------------


def filing_facts(filing: c.FilingSubmitted) -> f.Filing:
    """The filing as the rules read it (contract codes to domain codes, by value)."""
    return f.Filing(
        kind=f.FilingKind(filing.kind.value),
        staff_id=filing.staff_id,
        received_on=filing.received_on,
        effective_date=filing.effective_date,
        category=InsuredCategory(filing.category.value) if filing.category else None,
        previous_category=InsuredCategory(filing.previous_category.value) if filing.previous_category else None,
        acquired_on=filing.acquired_on,
        acquisition_reason=AcquisitionReason(filing.acquisition_reason.value) if filing.acquisition_reason else None,
        lost_on=filing.lost_on,
        loss_reason=LossReason(filing.loss_reason.value) if filing.loss_reason else None,
        corrects_period_acquired_on=filing.corrects_period_acquired_on,
        pension_fund_joined_on=filing.pension_fund_joined_on,
        basic_pension_number=filing.basic_pension_number,
    )


async def on_filing_submitted(delivery: Delivery[c.FilingSubmitted], uow: UnitOfWork) -> None:
    """届出の処理: apply a filing, or refuse it with the rule — and tell the counter which."""
    filing = delivery.event
    repo = EligibilityRepository(uow.conn)

    def outcome(
        kind: c.FilingOutcomeKind,
        message: str,
        *,
        rejection: f.Rejection | None = None,
        rule: str | None = None,
        caused: list[uuid.UUID] | None = None,
    ) -> None:
        uow.publish(
            FILING_OUTCOME,
            c.FilingOutcome(
                event_id=derived_id(delivery.event_id, "filing-outcome"),
                effective_date=filing.effective_date,
                recorded_at=now(),
                filing_id=filing.filing_id,
                kind=filing.kind,
                atena_number=filing.atena_number,
                outcome=kind,
                rejection=c.FilingRejection(rejection.value) if rejection else None,
                rule=rule,
                message=message,
                caused_event_ids=caused or [],
            ),
        )

    if not await repo.claim_filing(filing):
        outcome(
            c.FilingOutcomeKind.REJECTED,
            "同じ受付番号の届出は処理済みです",
            rejection=f.Rejection.DUPLICATE_FILING,
            rule="受付処理簿",
        )
        return
    person = await repo.person(filing.atena_number)
    if person is None:
        await repo.set_filing_status(filing.filing_id, "rejected", f.Rejection.UNKNOWN_PERSON.value)
        outcome(
            c.FilingOutcomeKind.REJECTED,
            "宛名番号に該当する住民の記録がありません",
            rejection=f.Rejection.UNKNOWN_PERSON,
            rule="住民記録との照合",
        )
        return
    stored = await repo.history(filing.atena_number)
    premium = await repo.additional_premium(filing.atena_number)
    pending = None
    if filing.kind is c.FilingKind.CONFIRMATION and filing.confirms_filing_id is not None:
        correction = await repo.pending_correction(filing.confirms_filing_id, filing.atena_number)
        pending = filing_facts(correction) if correction else None
    result = f.on_filing(
        filing_facts(filing),
        person.state,
        stored_history(stored),
        is_japanese_national=person.nationality == "JP",
        additional_premium=premium[1] if premium else None,
        premium_status=await premium_status_on(uow, filing.atena_number, filing.received_on),
        is_pension_fund_member=person.pension_fund_member or filing.pension_fund_joined_on is not None,
        pending_correction=pending,
    )
    if isinstance(result, f.Refused):
        await repo.set_filing_status(filing.filing_id, "rejected", result.reason.value)
        outcome(c.FilingOutcomeKind.REJECTED, result.message, rejection=result.reason, rule=result.rule)
        return
    await repo.update_pension_basics(
        filing.atena_number,
        basic_pension_number=filing.basic_pension_number,
        phone=filing.phone,
        note=filing.note,
        other_category=result.other_category,
        pension_fund_member=True if filing.pension_fund_joined_on else None,
    )
    person = await repo.person(filing.atena_number, lock=False) or person
    if result.pending_confirmation:
        await repo.set_filing_status(filing.filing_id, "pending_confirmation")
        outcome(c.FilingOutcomeKind.PENDING_CONFIRMATION, result.message)
        return
    if filing.kind is c.FilingKind.CONFIRMATION and filing.confirms_filing_id is not None:
        await repo.confirm_correction(filing.confirms_filing_id, filing.staff_id)
    changes = diff(stored, result.history)
    caused = await announce_history(
        uow,
        repo,
        filing.atena_number,
        person,
        changes,
        cause_event_id=delivery.event_id,
        report=lambda _change: None,
        received_on=filing.received_on,
    )
    if result.report is not None:
        main = changes[0] if changes else None
        uow.publish(
            JPS_REPORT_DUE,
            jps_report(
                e.JpsReportKind(result.report),
                filing.atena_number,
                person,
                filing.received_on,
                main,
                cause=derived_id(delivery.event_id, "jps-report"),
                report_id=filing.filing_id,
                note=filing.note,
            ),
        )
    if result.additional_premium is not None:
        await repo.save_additional_premium(
            filing.atena_number,
            result.additional_premium,
            supersedes=premium[0] if premium else None,
            cause_filing_id=filing.filing_id,
        )
        caused.append(_announce_additional_premium(uow, filing, person, result, delivery.event_id))
    await repo.set_filing_status(filing.filing_id, "accepted")
    outcome(c.FilingOutcomeKind.ACCEPTED, result.message, caused=caused)


def _announce_additional_premium(
    uow: UnitOfWork, filing: c.FilingSubmitted, person: PersonRecord, result: f.Accepted, cause: uuid.UUID
) -> uuid.UUID:
    premium = result.additional_premium
    assert premium is not None
    joined = premium.until_month is None
    event = e.AdditionalPremiumChanged(
        event_id=derived_id(cause, "additional-premium-changed"),
        effective_date=filing.effective_date,
        recorded_at=now(),
        atena_number=filing.atena_number,
        basic_pension_number=person.state.basic_pension_number,
        kind=e.AdditionalPremiumChangeKind.JOINED if joined else e.AdditionalPremiumChangeKind.WITHDRAWN,
        from_month=str(premium.from_month),
        until_month=str(premium.until_month) if premium.until_month else None,
        monthly_amount_yen=result.additional_premium_amount_yen or 0,
        reason="付加保険料納付申出"
        if joined
        else "付加保険料納付辞退" + ("（基金加入）" if filing.pension_fund_joined_on else ""),
    )
    uow.publish(ADDITIONAL_PREMIUM_CHANGED, event)
    return event.event_id
