"""The stream path keeps a polled batch of qualification changes at once (QualificationChangesHandler); the same
changes kept one at a time (on_qualification_changed) must leave the same slice — kept changes in the same order
per person, each person's latest state, the 移転1 records sent, their batches, the changes each took and the
transfer log's entries in order — whatever the interleaving of persons, the 基礎年金番号 appearing or not,
corrections and cancellations, and however the stream is cut into batches. Likewise the JPS provision's batch
handlers (reports due in order, each person's latest 基本4情報 whatever the recording times).

Each example runs both ways on the real database, each in a transaction rolled back afterwards."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kokunen_common.messaging import Delivery
from kokunen_common.outbox import OutboxBuffer
from kokunen_contracts.eligibility import (
    AcquisitionReason,
    InsuredCategory,
    JpsReportDue,
    JpsReportKind,
    LossReason,
    QualificationChanged,
    QualificationChangeKind,
)
from kokunen_contracts.residency import PersonChangeKind
from kokunen_testing.batches import announced, assert_batches_equal_one_at_a_time
from kokunen_testing.factories import person_changed
from kokunen_testing.platform import Platform, unique_atena
from transfer_dispatch.handlers import QualificationChangesHandler, on_qualification_changed
from transfer_dispatch.jps.handlers import (
    JpsPersonsBatchHandler,
    JpsReportsBatchHandler,
    on_jps_report_due,
    on_person_changed,
)

pytestmark = pytest.mark.integration

K = QualificationChangeKind
JST = timezone(timedelta(hours=9))
NUMBERS = (None, "1234-567890", "2345-678901")


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[int]]:
    steps = []
    for n in range(draw(st.integers(1, 12))):
        # A correction or cancellation names an earlier change (the first change cannot be one).
        kind = draw(st.sampled_from(list(K) if n else [K.ACQUIRED, K.LOST]))
        earlier = draw(st.integers(0, n - 1)) if kind in (K.CORRECTED, K.CANCELLED) else None
        steps.append(
            {
                "person": draw(st.integers(0, 2)),
                "kind": kind,
                "number": draw(st.sampled_from(NUMBERS)),
                "category": draw(st.sampled_from((InsuredCategory.CATEGORY_1, InsuredCategory.CATEGORY_3))),
                "lost": draw(st.booleans()) or kind is K.LOST,
                "replaces": earlier,
            }
        )
    cuts = sorted(draw(st.lists(st.integers(1, len(steps)), max_size=4, unique=True)))
    return steps, cuts


def events_of(steps: list[dict[str, Any]], atenas: list[str]) -> list[QualificationChanged]:
    events: list[QualificationChanged] = []
    for step in steps:
        lost_on = date(2026, 9, 1) if step["lost"] else None
        events.append(
            QualificationChanged(
                event_id=uuid.uuid4(),
                effective_date=lost_on or date(2026, 4, 1),
                recorded_at=datetime.now(JST),
                atena_number=atenas[step["person"]],
                kind=step["kind"],
                period_id=uuid.uuid4(),
                category=step["category"],
                acquired_on=date(2026, 4, 1),
                acquisition_reason=AcquisitionReason.MOVED_IN_FROM_ABROAD,
                lost_on=lost_on,
                loss_reason=LossReason.MOVED_ABROAD if lost_on else None,
                basic_pension_number=step["number"],
                replaces_event_id=None if step["replaces"] is None else events[step["replaces"]].event_id,
            )
        )
    return events


def slice_reader(atenas: list[str]) -> Any:
    async def read(conn: asyncpg.Connection, outbox: OutboxBuffer) -> dict[str, Any]:
        kept = await conn.fetch(
            """SELECT record_id, source_event_id, replaces_event_id, atena_number, basic_pension_number,
                      insured_category, acquired_on, lost_on, change_kind, processing_month
               FROM dispatch.qualification_change WHERE atena_number = ANY($1::text[])
               ORDER BY atena_number, arrival""",
            atenas,
        )
        persons = await conn.fetch(
            """SELECT atena_number, basic_pension_number, insured_category, acquired_on, lost_on, withdrawn,
                      last_event_id
               FROM dispatch.insured_person WHERE atena_number = ANY($1::text[]) ORDER BY atena_number""",
            atenas,
        )
        items = await conn.fetch(
            """SELECT policy_id, record_id, batch_id, corrects_record_id, revision, payload_digest, cancelled
               FROM dispatch.transfer_item WHERE subject_key = ANY($1::text[]) ORDER BY record_id""",
            atenas,
        )
        taken = await conn.fetch(
            """SELECT b.policy_id, b.change_record_id, b.batch_id FROM dispatch.batched_change b
               JOIN dispatch.qualification_change q ON q.record_id = b.change_record_id
               WHERE q.atena_number = ANY($1::text[]) ORDER BY b.change_record_id""",
            atenas,
        )
        batch_ids = sorted({r["batch_id"] for r in items})
        batches = await conn.fetch(
            """SELECT batch_id, policy_id, period, record_count FROM dispatch.transfer_batch
               WHERE batch_id = ANY($1::text[]) ORDER BY batch_id""",
            batch_ids,
        )
        logged = await conn.fetch(
            """SELECT batch_id, policy_id, record_count FROM dispatch.transfer_log
               WHERE batch_id = ANY($1::text[]) ORDER BY seq""",
            batch_ids,
        )
        return {
            "kept": [dict(r) for r in kept],
            "persons": [dict(r) for r in persons],
            "items": [dict(r) for r in items],
            "taken": [dict(r) for r in taken],
            "batches": [dict(r) for r in batches],
            "logged": [dict(r) for r in logged],
            "sent": announced(outbox),
        }

    return read


async def compare(platform: Platform, steps: list[dict[str, Any]], cuts: list[int]) -> None:
    atenas = [unique_atena() for _ in range(3)]
    stream = events_of(steps, atenas)
    await assert_batches_equal_one_at_a_time(
        platform,
        "transfer_dispatch",
        one=on_qualification_changed,
        batched=QualificationChangesHandler(),
        deliveries=[
            Delivery(e, e.event_id, "/test", "eligibility.qualification-changed.v1", 0, n) for n, e in enumerate(stream)
        ],
        cuts=cuts,
        read=slice_reader(atenas),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stream=streams())
def test_a_batch_keeps_what_one_change_at_a_time_keeps(platform: Platform, stream: Any) -> None:
    steps, cuts = stream
    asyncio.run(compare(platform, steps, cuts))


@st.composite
def provision_streams(draw: st.DrawFn) -> tuple[list[tuple[int, int, int]], list[int]]:
    """(person, recorded hour, what: 0 a person change, 1 a report due) per message — recording times out of
    order and tied — and where the stream is cut (the two topics are separate subscriptions: each batch one's)."""
    steps = draw(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 3), st.integers(0, 1)), min_size=1, max_size=10))
    cuts = sorted(draw(st.lists(st.integers(1, len(steps)), max_size=3, unique=True)))
    return steps, cuts


class ProvisionByTopic:
    def __init__(self) -> None:
        self.persons = JpsPersonsBatchHandler()
        self.reports = JpsReportsBatchHandler()

    async def __call__(self, delivery: Delivery[Any], uow: Any) -> None:
        await (self.reports if isinstance(delivery.event, JpsReportDue) else self.persons)(delivery, uow)

    async def finish_batch(self, uow: Any) -> None:
        await self.persons.finish_batch(uow)
        await self.reports.finish_batch(uow)


async def one_provision_message(delivery: Delivery[Any], uow: Any) -> None:
    if isinstance(delivery.event, JpsReportDue):
        await on_jps_report_due(delivery, uow)
    else:
        await on_person_changed(delivery, uow)


async def compare_provision(platform: Platform, steps: list[tuple[int, int, int]], cuts: list[int]) -> None:
    atenas = [unique_atena() for _ in range(2)]
    base = datetime(2026, 11, 2, 9, 0, tzinfo=JST)
    stream: list[Any] = []
    for n, (person, hour, what) in enumerate(steps):
        if what:
            stream.append(
                JpsReportDue(
                    event_id=uuid.uuid4(),
                    effective_date=date(2026, 4, 1),
                    recorded_at=base,
                    report_id=uuid.uuid4(),
                    report_kind=JpsReportKind.QUALIFICATION_ACQUISITION,
                    atena_number=atenas[person],
                    received_on=date(2026, 11, 2),
                )
            )
        else:
            change = person_changed(atenas[person], PersonChangeKind.MOVED_WITHIN_CITY, date(2026, 11, 1))
            stream.append(change.model_copy(update={"recorded_at": base + timedelta(hours=hour), "name": f"氏名 {n}"}))
    topic_changes = [n for n in range(1, len(stream)) if type(stream[n]) is not type(stream[n - 1])]

    async def read(conn: asyncpg.Connection, outbox: OutboxBuffer) -> dict[str, Any]:
        persons = await conn.fetch(
            """SELECT atena_number, name, recorded_at, source_event_id FROM dispatch.jps_person
               WHERE atena_number = ANY($1::text[]) ORDER BY atena_number""",
            atenas,
        )
        reports = await conn.fetch(
            """SELECT atena_number, report_id, source_event_id FROM dispatch.jps_report
               WHERE atena_number = ANY($1::text[]) ORDER BY arrival""",
            atenas,
        )
        return {"persons": [dict(r) for r in persons], "reports": [dict(r) for r in reports]}

    await assert_batches_equal_one_at_a_time(
        platform,
        "transfer_dispatch",
        one=one_provision_message,
        batched=ProvisionByTopic(),
        deliveries=[Delivery(e, e.event_id, "/test", "t", 0, n) for n, e in enumerate(stream)],
        cuts=sorted({*cuts, *topic_changes}),
        read=read,
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stream=provision_streams())
def test_a_batch_keeps_what_the_provision_keeps_one_message_at_a_time(platform: Platform, stream: Any) -> None:
    steps, cuts = stream
    asyncio.run(compare_provision(platform, steps, cuts))
