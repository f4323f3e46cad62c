"""Service layer of eligibility: apply a person change to the qualification slice."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from zoneinfo import ZoneInfo

from kokunen_common.messaging import Delivery, UnitOfWork
from kokunen_contracts.eligibility import (
    AcquisitionReason,
    InsuredCategory,
    LossReason,
    QualificationChanged,
    QualificationChangeKind,
)
from kokunen_contracts.envelope import now
from kokunen_contracts.registry import QUALIFICATION_CHANGED
from kokunen_contracts.residency import PersonChanged, PersonChangeKind

from .adapters.repository import EligibilityRepository
from .domain import residency_effects as effects

JST = ZoneInfo("Asia/Tokyo")


def today_in_japan(at: datetime | None = None) -> date:
    return (at or datetime.now(JST)).astimezone(JST).date()


async def on_person_changed(delivery: Delivery[PersonChanged], uow: UnitOfWork) -> None:
    """人の異動の反映: decide and record 資格取得 / 資格喪失 and tell the other services."""
    event = delivery.event
    repo = EligibilityRepository(uow.conn)
    person = await repo.remember_person(event)
    open_period = await repo.open_period(event.atena_number)
    decisions: list[effects.Decision]
    match event.kind:
        case PersonChangeKind.MOVED_IN_FROM_ABROAD:
            decisions = effects.on_moved_in_from_abroad(person, event.effective_date, open_period)
        case PersonChangeKind.DIED:
            decisions = effects.on_died(event.effective_date, open_period)
        case PersonChangeKind.MOVED_OUT_ABROAD:
            decisions = effects.on_moved_out_abroad(event.effective_date, today_in_japan(), open_period)
        case PersonChangeKind.REMOVED_EX_OFFICIO:
            decisions = effects.on_removed_ex_officio()
        case _:
            decisions = []
    for decision in decisions:
        await _apply(decision, event, person, open_period, repo, uow, delivery.event_id)


async def _apply(
    decision: effects.Decision,
    event: PersonChanged,
    person: effects.PersonFacts,
    open_period: effects.OpenPeriod | None,
    repo: EligibilityRepository,
    uow: UnitOfWork,
    cause: uuid.UUID,
) -> None:
    match decision:
        case effects.Acquire(acquired_on=acquired_on, reason=reason):
            period_id, event_id = uuid.uuid4(), uuid.uuid4()
            await repo.add_version(
                period_id=period_id,
                atena_number=event.atena_number,
                category=InsuredCategory.CATEGORY_1.value,
                acquired_on=acquired_on,
                acquisition_reason=reason,
                lost_on=None,
                loss_reason=None,
                cause_event_id=cause,
                published_event_id=event_id,
            )
            uow.publish(
                QUALIFICATION_CHANGED,
                QualificationChanged(
                    event_id=event_id,
                    effective_date=acquired_on,
                    recorded_at=now(),
                    atena_number=event.atena_number,
                    kind=QualificationChangeKind.ACQUIRED,
                    period_id=period_id,
                    category=InsuredCategory.CATEGORY_1,
                    acquired_on=acquired_on,
                    acquisition_reason=AcquisitionReason(reason),
                    basic_pension_number=person.basic_pension_number,
                    cause_event_id=cause,
                ),
            )
        case effects.Lose(lost_on=lost_on, reason=reason):
            assert open_period is not None
            event_id = uuid.uuid4()
            await repo.add_version(
                period_id=open_period.period_id,
                atena_number=event.atena_number,
                category=open_period.category,
                acquired_on=open_period.acquired_on,
                acquisition_reason=open_period.acquisition_reason,
                lost_on=lost_on,
                loss_reason=reason,
                cause_event_id=cause,
                published_event_id=event_id,
                supersedes_version_id=open_period.version_id,
            )
            uow.publish(
                QUALIFICATION_CHANGED,
                QualificationChanged(
                    event_id=event_id,
                    effective_date=lost_on,
                    recorded_at=now(),
                    atena_number=event.atena_number,
                    kind=QualificationChangeKind.LOST,
                    period_id=open_period.period_id,
                    category=InsuredCategory(open_period.category),
                    acquired_on=open_period.acquired_on,
                    acquisition_reason=AcquisitionReason(open_period.acquisition_reason),
                    lost_on=lost_on,
                    loss_reason=LossReason(reason),
                    basic_pension_number=person.basic_pension_number,
                    cause_event_id=cause,
                ),
            )
        case effects.FlagAddressUnknown():
            await repo.flag_address_unknown(event.atena_number)
        case effects.ScheduleMoveAbroad():
            pass  # applied by the calendar scheduler on its date (see the eligibility issue)
