"""What the JPS provision keeps from events: the reports due (進達対象) and the persons' 基本4情報."""

from __future__ import annotations

from kokunen_common.messaging import Delivery, UnitOfWork
from kokunen_contracts.eligibility import JpsReportDue
from kokunen_contracts.residency import PersonChanged

from .adapters.repository import JpsRepository


async def on_jps_report_due(delivery: Delivery[JpsReportDue], uow: UnitOfWork) -> None:
    """Keep a report due for the weekly 進達 and for inquiry answers (My Number stays sealed)."""
    await JpsRepository(uow.conn).keep_report(delivery.event)


async def on_person_changed(delivery: Delivery[PersonChanged], uow: UnitOfWork) -> None:
    """Keep the latest 氏名・カナ・性別・生年月日・住所 that the JPS medium carries."""
    await JpsRepository(uow.conn).keep_person(delivery.event)


class JpsReportsBatchHandler:
    """``on_jps_report_due`` for a polled batch (issue 12): the batch's reports kept by one statement, in order."""

    async def __call__(self, delivery: Delivery[JpsReportDue], uow: UnitOfWork) -> None:
        uow.batch.setdefault("jps_reports", []).append(delivery.event)

    async def finish_batch(self, uow: UnitOfWork) -> None:
        await JpsRepository(uow.conn).keep_reports(uow.batch.pop("jps_reports", []))


class JpsPersonsBatchHandler:
    """``on_person_changed`` for a polled batch (issue 12): the persons' latest 基本4情報 kept by one statement."""

    async def __call__(self, delivery: Delivery[PersonChanged], uow: UnitOfWork) -> None:
        uow.batch.setdefault("jps_persons", []).append(delivery.event)

    async def finish_batch(self, uow: UnitOfWork) -> None:
        await JpsRepository(uow.conn).keep_persons(uow.batch.pop("jps_persons", []))


KEPT_ON_REPLAY = ("jps_batch", "jps_item", "jps_result_import", "jps_result_line")
"""What was provided to JPS and what came back: no topic holds it, a replay keeps it."""
