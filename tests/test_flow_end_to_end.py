"""One real flow through every service, on the real broker and database (issue: foundation §7).

An upstream 死亡 of a category-1 insured person → residency_sync stores it and emits a person change →
eligibility records 資格喪失 on the day after death (国民年金法9条1号) → transfer_dispatch keeps it for
the monthly transfer to 国保年金課 (移転4) with exactly its seven fields and logs the transfer.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import date

import pytest
from kokunen_common.telemetry import tracer
from kokunen_contracts.envelope import header_map
from kokunen_contracts.registry import NHI_QUALIFICATION_TRANSFER, RESIDENT_CHANGED
from kokunen_contracts.residency import Address, ChangeReason
from kokunen_contracts.transfer import TRANSFER_RECORD_METADATA
from kokunen_testing.factories import change, resident
from kokunen_testing.platform import eventually, unique_atena
from transfer_dispatch.domain.policy import load_policies
from transfer_dispatch.domain.transfer_log import verify_chain
from transfer_dispatch.handlers import processing_month, run_monthly_nhi_transfer

pytestmark = pytest.mark.integration

NHI_FIELDS = {
    "basic_pension_number",
    "atena_number",
    "insured_category",
    "acquired_on",
    "acquisition_reason",
    "lost_on",
    "loss_reason",
}


async def settled(platform, quiet_s: float = 2.0) -> None:
    """Until no new event has reached eligibility or transfer_dispatch for ``quiet_s``."""
    admin = await platform.admin()
    try:

        async def claimed() -> tuple[int, int]:
            return (
                await admin.fetchval("SELECT count(*) FROM eligibility.inbox"),
                await admin.fetchval("SELECT count(*) FROM dispatch.inbox"),
            )

        last, since = await claimed(), time.monotonic()
        while time.monotonic() - since < quiet_s:
            await asyncio.sleep(0.25)
            now = await claimed()
            if now != last:
                last, since = now, time.monotonic()
    finally:
        await admin.close()


async def test_death_of_an_insured_person_reaches_the_nhi_transfer_in_one_trace(platform, spans) -> None:
    atena = unique_atena()
    person = resident(atena, birth_date=date(1984, 7, 1))
    moved_in = change(
        ChangeReason.MOVE_IN_FROM_ABROAD,
        person.model_copy(update={"moved_in_from": Address(text="Paris", country_code="FR")}),
        date(2025, 4, 1),
    )
    died = change(ChangeReason.DEATH, person, date(2026, 10, 31))

    async with platform.build("residency_sync"), platform.build("eligibility"), platform.build("transfer_dispatch"):
        await platform.publish(RESIDENT_CHANGED, [moved_in])
        with tracer().start_as_current_span("upstream 住民記録システム publishes 死亡") as root:
            await platform.publish(RESIDENT_CHANGED, [died])
        trace_id = root.get_span_context().trace_id

        dispatch = await platform.connect_as("transfer_dispatch")
        try:
            kept = await eventually(
                lambda: dispatch.fetchrow(
                    "SELECT * FROM dispatch.qualification_change WHERE atena_number = $1 AND change_kind = 'lost'",
                    atena,
                )
            )
            # 資格喪失日 is the day after death (9条1号): died 31 Oct → lost 1 Nov; acquired on the 転入日.
            assert kept["lost_on"] == date(2026, 11, 1)
            assert kept["loss_reason"] == "death"
            assert kept["acquired_on"] == date(2025, 4, 1)
            assert kept["acquisition_reason"] == "moved_in_from_abroad"

            # One trace from the upstream publish through every service's processing of the death.
            processed = {
                s.name: s
                for s in spans.get_finished_spans()
                if s.name.endswith(" process") and s.context.trace_id == trace_id
            }
            assert {
                "residency.resident-changed.v1 process",
                "residency.person-changed.v1 process",
                "eligibility.qualification-changed.v1 process",
            } <= set(processed)
            # Each service's span continues the span in which the service before it processed the event (a
            # batch handler publishes each event's effects in that event's own context).
            assert processed["residency.person-changed.v1 process"].parent.span_id == (
                processed["residency.resident-changed.v1 process"].context.span_id
            )

            # "Re-running the month sends nothing new" holds once nothing new is arriving: wait until dispatch
            # keeps every qualification change eligibility has announced (earlier tests' leftovers included,
            # which eligibility's relay may only now be publishing).
            admin = await platform.admin()
            try:

                async def caught_up() -> bool:
                    behind: int = await admin.fetchval(
                        """SELECT count(*) FROM eligibility.outbox o
                           WHERE o.topic = 'eligibility.qualification-changed.v1'
                             AND NOT EXISTS (SELECT 1 FROM dispatch.qualification_change q
                                             WHERE q.source_event_id = o.event_id)"""
                    )
                    return behind == 0

                await eventually(caught_up, timeout_s=60)
            finally:
                await admin.close()

            # The monthly 移転4 batch carries exactly the policy's seven fields, no My Number, and is logged.
            # It takes every change of the month: let the services finish what earlier tests left on the topics,
            # or a change arriving between the two runs below reads as a non-idempotent re-run.
            await settled(platform)
            month = processing_month(kept["received_at"])
            start = await platform.end_offsets(NHI_QUALIFICATION_TRANSFER.name)
            result = await run_monthly_nhi_transfer(dispatch, load_policies(), month)
            assert result.record_count >= 1
            log = await dispatch.fetch("SELECT * FROM dispatch.transfer_log ORDER BY seq")
            assert verify_chain([dict(r) for r in log]) == []
            assert log[-1]["batch_id"] == result.batch_id
            assert log[-1]["recipient"] == "福祉局 生活福祉部 国保年金課"
            assert set(log[-1]["fields"]) == NHI_FIELDS
            again = await run_monthly_nhi_transfer(dispatch, load_policies(), month)
            # Re-running the month sends nothing already sent. (Other tests' changes still arriving from the
            # backlog may make a supplementary batch; none of it may be this person's.)
            resent = await dispatch.fetchval(
                "SELECT count(*) FROM dispatch.transfer_item WHERE batch_id = $1 AND subject_key = $2",
                again.batch_id,
                atena,
            )
            assert resent == 0

            def ours(records: list) -> list:
                return [r for r in records if json.loads(r.value)["atena_number"] == atena]

            sent = ours(await platform.read_from(NHI_QUALIFICATION_TRANSFER.name, start, until=ours))
        finally:
            await dispatch.close()

    # Both changes were processed this month: the 資格取得 (転入) and the 資格喪失 (死亡).
    bodies = sorted((json.loads(r.value) for r in sent), key=lambda b: b["lost_on"] or "")
    assert [b["lost_on"] for b in bodies] == [None, "2026-11-01"]
    for record, body in zip(sent, bodies, strict=True):
        assert set(body) - TRANSFER_RECORD_METADATA == NHI_FIELDS
        assert header_map(record.headers)["ce_type"] == NHI_QUALIFICATION_TRANSFER.event_type
        assert person.my_number is not None
        assert person.my_number.reveal() not in record.value.decode()
    assert bodies[1]["loss_reason"] == "death"
