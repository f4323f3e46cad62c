"""The stream path applies a polled batch at once (ResidentChangeBatchHandler); the same changes applied one at
a time (ResidentChangeHandler, as a differential file and a redelivered batch are) must leave the same slice and
announce the same person changes, in the same order per person — whatever the interleaving of persons, late
changes, re-sent 異動番号, cancellations before or after their change, and however the stream is cut into batches.

Each example runs both ways on the real database, each in a transaction rolled back afterwards."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kokunen_common.messaging import Delivery
from kokunen_common.outbox import OutboxBuffer
from kokunen_contracts.residency import Address, ChangeReason, PersonName, ResidentChanged
from kokunen_testing.batches import announced, assert_batches_equal_one_at_a_time
from kokunen_testing.factories import change, resident
from kokunen_testing.platform import Platform, unique_atena
from residency_sync.handlers import ResidentChangeBatchHandler, ResidentChangeHandler

pytestmark = pytest.mark.integration

R = ChangeReason
REASONS = (
    R.DOMESTIC_MOVE_IN,
    R.MOVE_WITHIN_CITY,
    R.NAME_CHANGE,
    R.MOVE_OUT_ABROAD,
    R.MOVE_IN_FROM_ABROAD,
    R.DEATH,
    R.NATURALISATION_REMOVAL,
    R.DOMESTIC_MOVE_OUT,
)
START = date(2026, 1, 5)


@st.composite
def a_change(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "what": "change",
        "person": draw(st.integers(0, 2)),
        "reason": draw(st.sampled_from(REASONS)),
        "day": draw(st.integers(0, 300)),  # some arrive late: 異動日 before one already held
        "delay": draw(st.integers(0, 40)),  # 処理日 after the 異動日
        "name": draw(st.sampled_from(("浦和 花子", "大宮 花子"))),
    }


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[int]]:
    """Steps for up to three persons — a change, a change re-sent under a new event id, a cancellation of a
    change sent before, or a cancellation arriving before its change — and where the stream is cut into
    batches."""
    steps: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(1, 10))):
        what = draw(st.sampled_from(("change", "change", "change", "resend", "cancel", "cancel_first")))
        sent = [n for n, s in enumerate(steps) if s["what"] == "change"]
        if what == "cancel_first":
            steps.append({"what": "cancel", "target": len(steps) + 1})
            steps.append(draw(a_change()))
        elif what in ("resend", "cancel") and sent:
            steps.append({"what": what, "target": draw(st.sampled_from(sent))})
        else:
            steps.append(draw(a_change()))
    cuts = sorted(draw(st.lists(st.integers(1, len(steps)), max_size=4, unique=True)))
    return steps, cuts


def changes_of(steps: list[dict[str, Any]], atenas: list[str]) -> list[ResidentChanged]:
    made: dict[int, ResidentChanged] = {}
    for n, step in enumerate(steps):
        if step["what"] == "change":
            effective = START + timedelta(days=step["day"])
            record = resident(
                atenas[step["person"]], name=PersonName(name=step["name"], kana="ウラワ ハナコ"), my_number=None
            )
            if step["reason"] is R.MOVE_IN_FROM_ABROAD:
                record = record.model_copy(update={"moved_in_from": Address(text="Paris", country_code="FR")})
            made[n] = change(step["reason"], record, effective, processed=effective + timedelta(days=step["delay"]))
    out: list[ResidentChanged] = []
    for n, step in enumerate(steps):
        if step["what"] == "change":
            out.append(made[n])
        elif step["what"] == "resend":
            out.append(made[step["target"]].model_copy(update={"event_id": uuid.uuid4()}))
        else:
            original = made[step["target"]]
            out.append(
                change(
                    R.CANCELLATION,
                    original.resident,
                    original.effective_date,
                    processed=original.processed_on,
                    cancels=original.change_id,
                )
            )
    return out


def delivery(event: ResidentChanged, offset: int) -> Delivery[Any]:
    return Delivery(event, event.event_id, "/test", "residency.resident-changed.v1", 0, offset)


def slice_reader(atenas: list[str]) -> Any:
    async def read(conn: asyncpg.Connection, outbox: OutboxBuffer) -> dict[str, Any]:
        versions = await conn.fetch(
            """SELECT atena_number, change_id, reason, effective_date, processed_on, source_event_id,
                      published_event_id, arrival, name, is_resident, lives_in_japan, cancelled_by,
                      cancelled_at IS NULL AS in_force
               FROM residency.person_version WHERE atena_number = ANY($1::text[])
               ORDER BY atena_number, version_id""",
            atenas,
        )
        persons = await conn.fetch(
            """SELECT p.atena_number, v.change_id, p.latest_effective_date, p.is_resident, p.my_number_hash
               FROM residency.person p JOIN residency.person_version v ON v.version_id = p.current_version_id
               WHERE p.atena_number = ANY($1::text[]) ORDER BY p.atena_number""",
            atenas,
        )
        parked = await conn.fetch(
            "SELECT * FROM residency.parked_cancellation WHERE atena_number = ANY($1::text[]) ORDER BY change_id",
            atenas,
        )
        return {
            "versions": [dict(r) for r in versions],
            "persons": [dict(r) for r in persons],
            "parked": [dict(r) for r in parked],
            "announced": announced(outbox),
        }

    return read


async def compare(platform: Platform, steps: list[dict[str, Any]], cuts: list[int]) -> None:
    atenas = [unique_atena() for _ in range(3)]
    stream = changes_of(steps, atenas)
    vault = platform.vault()
    one = ResidentChangeHandler(vault)
    await assert_batches_equal_one_at_a_time(
        platform,
        "residency_sync",
        one=lambda d, uow: one.apply(d.event, uow),
        batched=ResidentChangeBatchHandler(vault),
        deliveries=[delivery(e, n) for n, e in enumerate(stream)],
        cuts=cuts,
        read=slice_reader(atenas),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stream=streams())
def test_a_batch_leaves_what_one_change_at_a_time_leaves(platform: Platform, stream: Any) -> None:
    steps, cuts = stream
    asyncio.run(compare(platform, steps, cuts))
