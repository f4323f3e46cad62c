"""JPS processing results (処理結果一覧表の突合結果) reaching eligibility on the real broker and database:
each line is kept once, with the follow-up it asks of staff; a 基礎年金番号 JPS used fills an empty
＜年金基本＞ and never overwrites a different one."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import date, datetime
from typing import Any

import asyncpg
import pytest
from eligibility.handlers import PersonChangesBatchHandler, on_jps_processing_result
from kokunen_common.messaging import Delivery, UnitOfWork
from kokunen_common.outbox import OutboxBuffer
from kokunen_contracts.eligibility import JpsReportKind
from kokunen_contracts.jps import JpsOutcome, JpsProcessingResult, Reconciliation
from kokunen_contracts.registry import JPS_PROCESSING_RESULT, PERSON_CHANGED
from kokunen_contracts.residency import PersonChangeKind as K
from kokunen_testing.factories import JST, person_changed
from kokunen_testing.platform import Platform, eventually, unique_atena

pytestmark = pytest.mark.integration

LIST_ID = hashlib.sha256(b"shori-kekka-ichiranhyo-2026-11").hexdigest()


def result(
    atena: str, line: int, reconciliation: Reconciliation, outcome: JpsOutcome, **fields: Any
) -> JpsProcessingResult:
    return JpsProcessingResult(
        event_id=uuid.uuid4(),
        effective_date=date(2026, 11, 20),
        recorded_at=datetime.now(JST),
        atena_number=atena,
        list_id=LIST_ID,
        line_number=line,
        batch_id="jps-2026-W46",
        report_id=uuid.uuid4(),
        report_kind=JpsReportKind.QUALIFICATION_ACQUISITION,
        reconciliation=reconciliation,
        jps_outcome=outcome,
        processed_on=date(2026, 11, 18),
        **fields,
    )


async def person_known(platform: Platform) -> str:
    atena = unique_atena()
    await platform.publish(PERSON_CHANGED, [person_changed(atena, K.MOVED_IN_FROM_ABROAD, date(2026, 10, 1))])
    await eventually(lambda: pension_number(platform, atena, present_only=False))
    return atena


async def pension_number(platform: Platform, atena: str, *, present_only: bool = True) -> Any:
    conn = await platform.connect_as("eligibility")
    try:
        row = await conn.fetchrow("SELECT basic_pension_number FROM eligibility.person WHERE atena_number = $1", atena)
    finally:
        await conn.close()
    if row is None:
        return None
    return row[0] if present_only else (row[0] or "known")


async def kept(platform: Platform, atena: str, count: int) -> list[tuple[Any, ...]]:
    conn = await platform.connect_as("eligibility")
    try:
        rows = await conn.fetch(
            """SELECT line_number, reconciliation, jps_outcome, follow_up, pension_number_taken, known_person
               FROM eligibility.jps_result WHERE atena_number = $1 ORDER BY line_number""",
            atena,
        )
    finally:
        await conn.close()
    return [tuple(r) for r in rows] if len(rows) >= count else []


async def test_a_processed_report_gives_its_pension_number_and_problems_become_follow_ups(
    platform: Platform, eligibility: None
) -> None:
    atena = await person_known(platform)
    processed = result(atena, 1, Reconciliation.MATCHED, JpsOutcome.PROCESSED, basic_pension_number="2345-678901")
    returned = result(atena, 2, Reconciliation.MATCHED, JpsOutcome.RETURNED, jps_result_code="E123")
    mismatched = result(atena, 3, Reconciliation.MISMATCHED, JpsOutcome.PROCESSED, mismatched_fields=["acquired_on"])
    # the same event twice (a redelivery) is kept once
    await platform.publish(JPS_PROCESSING_RESULT, [processed, returned, mismatched, processed])

    assert await eventually(lambda: kept(platform, atena, 3)) == [
        (1, "matched", "processed", None, True, True),
        (2, "matched", "returned", "returned", False, True),
        (3, "mismatched", "processed", "mismatched", False, True),
    ]
    assert await pension_number(platform, atena) == "2345-678901"


async def test_a_different_pension_number_is_never_overwritten(platform: Platform, eligibility: None) -> None:
    atena = await person_known(platform)
    await platform.publish(
        JPS_PROCESSING_RESULT,
        [result(atena, 1, Reconciliation.MATCHED, JpsOutcome.PROCESSED, basic_pension_number="2345-678901")],
    )
    await eventually(lambda: pension_number(platform, atena))
    await platform.publish(
        JPS_PROCESSING_RESULT,
        [result(atena, 2, Reconciliation.MATCHED, JpsOutcome.PROCESSED, basic_pension_number="3456-789012")],
    )
    rows = await eventually(lambda: kept(platform, atena, 2))
    assert rows[1][3:5] == ("pension_number_differs", False)
    assert await pension_number(platform, atena) == "2345-678901"


async def test_a_line_for_a_person_eligibility_does_not_know_is_kept_for_staff(
    platform: Platform, eligibility: None
) -> None:
    atena = unique_atena()
    await platform.publish(JPS_PROCESSING_RESULT, [result(atena, 7, Reconciliation.UNEXPECTED, JpsOutcome.PROCESSED)])
    assert await eventually(lambda: kept(platform, atena, 1)) == [
        (7, "unexpected", "processed", "not_sent", False, False)
    ]


async def test_a_result_read_before_its_person_is_applied_when_the_person_arrives(
    platform: Platform, eligibility: None
) -> None:
    # Two topics: Kafka does not order a JPS result against the person change. Either way round the slice
    # ends the same (and so does a replay, which reads in time order).
    atena = unique_atena()
    await platform.publish(
        JPS_PROCESSING_RESULT,
        [result(atena, 1, Reconciliation.MATCHED, JpsOutcome.PROCESSED, basic_pension_number="4567-890123")],
    )
    assert await eventually(lambda: kept(platform, atena, 1)) == [(1, "matched", "processed", None, False, False)]
    await platform.publish(PERSON_CHANGED, [person_changed(atena, K.MOVED_IN_FROM_ABROAD, date(2026, 10, 1))])
    assert await eventually(lambda: pension_number(platform, atena)) == "4567-890123"
    assert await kept(platform, atena, 1) == [(1, "matched", "processed", None, True, True)]


@pytest.mark.parametrize("first", ["person", "result"])
async def test_a_result_and_its_person_applied_concurrently_still_meet(platform: Platform, first: str) -> None:
    """The two subscriptions apply their batches in concurrent transactions: the person's arrival and a result for
    them, each uncommitted while the other runs, must not miss each other (the result kept for nobody, the person
    never taking it). Whichever transaction comes second waits for the first and sees it."""
    atena = unique_atena()
    arrival = person_changed(atena, K.MOVED_IN_FROM_ABROAD, date(2026, 10, 1))
    line = result(atena, 1, Reconciliation.MATCHED, JpsOutcome.PROCESSED, basic_pension_number="5678-901234")

    async def apply(conn: asyncpg.Connection, outbox: OutboxBuffer, which: str) -> None:
        if which == "person":
            handler = PersonChangesBatchHandler()
            uow = UnitOfWork(conn, outbox, {})
            await handler(Delivery(arrival, arrival.event_id, "/test", PERSON_CHANGED.name, 0, 0), uow)
            await handler.finish_batch(uow)
        else:
            delivery = Delivery(line, line.event_id, "/test", JPS_PROCESSING_RESULT.name, 0, 0)
            await on_jps_processing_result(delivery, UnitOfWork(conn, outbox))

    admin = await platform.admin()
    one = await platform.connect_as("eligibility")
    other = await platform.connect_as("eligibility")
    try:
        outbox = OutboxBuffer(schema="eligibility", source="/kokunen/eligibility")
        first_tx, second_tx = one.transaction(), other.transaction()
        await first_tx.start()
        await apply(one, outbox, first)
        await second_tx.start()
        second = asyncio.create_task(apply(other, outbox, "result" if first == "person" else "person"))
        waiting = "SELECT count(*) FROM pg_locks WHERE pid = $1 AND NOT granted"
        await eventually(lambda: second.done() or admin.fetchval(waiting, other.get_server_pid()))
        await first_tx.commit()
        await second
        await second_tx.commit()
        assert await pension_number(platform, atena) == "5678-901234"
        assert await kept(platform, atena, 1) == [(1, "matched", "processed", None, True, True)]
    finally:
        # No topic holds what this test applied: leave nothing a replay of the slice could not rebuild.
        tables = await admin.fetch(
            """SELECT c.table_name FROM information_schema.columns c
               JOIN information_schema.tables t USING (table_schema, table_name)
               WHERE c.table_schema = 'eligibility' AND c.column_name = 'atena_number'
                 AND t.table_type = 'BASE TABLE' AND c.table_name <> 'person'"""
        )
        for table in [r["table_name"] for r in tables] + ["person"]:
            await admin.execute(f"DELETE FROM eligibility.{table} WHERE atena_number = $1", atena)
        for conn in (one, other, admin):
            await conn.close()
