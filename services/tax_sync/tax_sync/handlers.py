"""Service layer of tax_sync: assessments from Kafka staged one by one and applied per batch through the
same SQL as the annual file; persons learned from the resident record."""

from __future__ import annotations

from kokunen_common.logs import get_logger
from kokunen_common.messaging import Delivery, UnitOfWork
from kokunen_common.telemetry import current_traceparent
from kokunen_contracts.residency import PersonChanged
from kokunen_contracts.tax import IncomeAssessed

from .adapters.repository import apply_staged, ensure_staging, remember_person, stage_rows, staging_row_of
from .domain.income import check_years

log = get_logger(__name__)


class IncomeAssessedHandler:
    """``tax.income-assessed.v1``: each event is checked (an unknown year raises, and the consumer sends it
    to the dead-letter topic with the reason) and gathered; ``finish_batch`` stages the batch by one COPY
    and applies it through the same SQL as the annual file."""

    async def __call__(self, delivery: Delivery[IncomeAssessed], uow: UnitOfWork) -> None:
        event = delivery.event
        check_years(event.tax_year, event.income_year, event.assessed_on)
        row = staging_row_of(
            event.model_dump(),
            arrival=delivery.offset,  # one key lives on one partition: offsets order a person's assessments
            source_event_id=delivery.event_id,
            traceparent=current_traceparent().get("traceparent"),  # this event's span, continued downstream
        )
        uow.batch.setdefault("income_rows", []).append(row)  # last: nothing after it can fail

    async def finish_batch(self, uow: UnitOfWork) -> None:
        rows = uow.batch.get("income_rows")
        if not rows:
            return
        await ensure_staging(uow.conn)
        await stage_rows(uow.conn, rows)
        result = await apply_staged(uow.conn)
        log.info(
            "income assessments applied",
            staged=result.staged,
            determined=result.determined,
            corrected=result.corrected,
            unchanged=result.unchanged,
        )


async def on_person_changed(delivery: Delivery[PersonChanged], uow: UnitOfWork) -> None:
    """``residency.person-changed.v1``: the 宛名番号 is known; assessments kept unverified become verified."""
    event = delivery.event
    await remember_person(uow.conn, event.atena_number, event.is_resident, delivery.event_id)
