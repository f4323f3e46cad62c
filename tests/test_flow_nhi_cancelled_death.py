"""A death cancelled in the month it was recorded never leaves 国保年金課 holding the person as lost (issue 15).

On the real broker and database, through every service: category-1 insured persons move in from abroad, die,
and the resident-record system cancels each death (異動の取消し) in the same processing month. For some the
cancellation arrives before the month's 移転4 batch, for the others after it. Whatever the order, the
department's latest state (its records applied in order, honouring ``corrects_record_id`` and ``cancelled``)
holds each of them insured, and a rerun of the month sends nothing new about them.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from kokunen_contracts.registry import NHI_QUALIFICATION_TRANSFER, RESIDENT_CHANGED
from kokunen_contracts.residency import Address, ChangeReason, ResidentChanged
from kokunen_testing.departments import latest_state
from kokunen_testing.factories import change, resident
from kokunen_testing.platform import Platform, eventually, unique_atena
from transfer_dispatch.domain.policy import load_policies
from transfer_dispatch.handlers import processing_month, run_monthly_nhi_transfer

pytestmark = pytest.mark.integration

PERSONS_PER_ORDER = 4
DIED_ON = date(2026, 10, 31)


def life(atena: str) -> tuple[ResidentChanged, ResidentChanged, ResidentChanged]:
    """転入 from abroad at 40 (資格取得, 国民年金法8条2号), 死亡 (喪失 the next day, 9条1号), and its 取消し."""
    person = resident(atena, birth_date=date(1984, 7, 1))
    moved_in = change(
        ChangeReason.MOVE_IN_FROM_ABROAD,
        person.model_copy(update={"moved_in_from": Address(text="Paris", country_code="FR")}),
        date(2025, 4, 1),
    )
    died = change(ChangeReason.DEATH, person, DIED_ON)
    cancelled = change(ChangeReason.CANCELLATION, person, DIED_ON, cancels=died.change_id)
    return moved_in, died, cancelled


async def test_a_death_cancelled_in_the_month_leaves_each_person_insured_at_the_nhi_department(
    platform: Platform,
) -> None:
    before = [unique_atena() for _ in range(PERSONS_PER_ORDER)]  # cancellation arrives before the batch
    after = [unique_atena() for _ in range(PERSONS_PER_ORDER)]  # … and after it
    lives = {atena: life(atena) for atena in before + after}
    books = load_policies()

    async with platform.build("residency_sync"), platform.build("eligibility"), platform.build("transfer_dispatch"):
        dispatch = await platform.connect_as("transfer_dispatch")
        try:

            async def kept(atenas: list[str], kind: str) -> list[Any]:
                rows = await dispatch.fetch(
                    "SELECT * FROM dispatch.qualification_change WHERE atena_number = ANY($1::text[]) "
                    "AND change_kind = $2",
                    atenas,
                    kind,
                )
                return rows if len(rows) == len(atenas) else []

            # Everyone moves in and dies; the "before" group's deaths are cancelled at once.
            await platform.publish(RESIDENT_CHANGED, [c for a in before + after for c in lives[a][:2]])
            await platform.publish(RESIDENT_CHANGED, [lives[a][2] for a in before])
            losses = await eventually(lambda: kept(before + after, "lost"), timeout_s=90)
            await eventually(lambda: kept(before, "cancelled"), timeout_s=90)
            assert {r["lost_on"] for r in losses} == {date(2026, 11, 1)}  # the day after death (9条1号)
            month = processing_month(losses[0]["received_at"])
            start = await platform.end_offsets(NHI_QUALIFICATION_TRANSFER.name)

            first = await run_monthly_nhi_transfer(dispatch, books, month)
            assert first.batch_id is not None

            # The "after" group's deaths are cancelled once the month's batch has gone.
            await platform.publish(RESIDENT_CHANGED, [lives[a][2] for a in after])
            await eventually(lambda: kept(after, "cancelled"), timeout_s=90)
            supplement = await run_monthly_nhi_transfer(dispatch, books, month)
            assert supplement.cancellations >= PERSONS_PER_ORDER

            # A rerun of the month sends nothing new about these persons (other tests' changes may still arrive).
            again = await run_monthly_nhi_transfer(dispatch, books, month)
            resent = await dispatch.fetchval(
                "SELECT count(*) FROM dispatch.transfer_item WHERE batch_id = $1 AND subject_key = ANY($2::text[])",
                again.batch_id,
                before + after,
            )
            assert resent == 0
            expected = PERSONS_PER_ORDER * 1 + PERSONS_PER_ORDER * 3
        finally:
            await dispatch.close()

        def ours(records: list[Any]) -> list[dict[str, Any]]:
            return [b for b in (json.loads(r.value) for r in records) if b["atena_number"] in lives]

        sent = ours(
            await platform.read_from(
                NHI_QUALIFICATION_TRANSFER.name, start, until=lambda r: len(ours(r)) >= expected, timeout_s=60
            )
        )

    by_person = {atena: [s for s in sent if s["atena_number"] == atena] for atena in lives}
    held = latest_state(sent, "atena_number")
    for atena in lives:
        state = held.get(atena)
        assert state is not None, f"{atena}: the department holds nothing"
        assert (state["insured_category"], state["lost_on"], state["loss_reason"]) == ("category_1", None, None)
        assert state["acquired_on"] == "2025-04-01"
    for atena in before:  # the death and its cancellation cancelled out within the batch: neither was sent
        assert [(s["lost_on"], s["cancelled"]) for s in by_person[atena]] == [(None, False)]
    for atena in after:  # the death went with the batch, its withdrawal with the supplement, naming it
        acquired, lost, withdrawn = by_person[atena]
        assert (lost["lost_on"], lost["loss_reason"]) == ("2026-11-01", "death")
        assert withdrawn["cancelled"]
        assert withdrawn["corrects_record_id"] == lost["record_id"]
        assert (acquired["batch_id"], lost["batch_id"]) == (first.batch_id, first.batch_id)
        assert withdrawn["batch_id"] == supplement.batch_id
    assert len(sent) == expected
