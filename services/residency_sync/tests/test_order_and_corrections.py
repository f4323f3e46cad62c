"""Order and lateness on the real broker and database (ADR 0010): late changes correct the history and
name what they replace, 異動の取消し undoes a change (also one not yet arrived), a change for an unknown
person registers them, repeats are no-ops; bad input of every class goes to the dead-letter topic with a
specific reason and the partition moves on."""

from __future__ import annotations

import json
import uuid
from datetime import date

import pytest
from kokunen_contracts.envelope import cloudevent_headers, header_map
from kokunen_contracts.registry import RESIDENT_CHANGED
from kokunen_contracts.residency import ChangeReason as R
from kokunen_testing.factories import change, resident
from kokunen_testing.platform import Platform, eventually, unique_atena

from .conftest import announced, applied, current, publish_in_rounds, versions

pytestmark = pytest.mark.integration


async def test_a_death_reported_late_becomes_current_and_names_the_event_it_corrects(residency: Platform) -> None:
    atena = unique_atena()
    entered = change(R.DOMESTIC_MOVE_IN, resident(atena), date(2026, 1, 10), processed=date(2026, 1, 10))
    moved = change(R.MOVE_WITHIN_CITY, resident(atena), date(2026, 9, 5), processed=date(2026, 9, 6))
    # The 死亡届 is processed on 9/20 for a death on 9/1: before the 転居 in 異動日, after it in 処理日.
    died = change(R.DEATH, resident(atena), date(2026, 9, 1), processed=date(2026, 9, 20))
    await publish_in_rounds(residency, [[entered, moved, died]])

    events = await announced(residency, atena)
    assert [e["kind"] for e in events] == ["moved_in_domestic", "moved_within_city", "died"]
    assert events[2]["replaces_event_id"] == events[0]["event_id"]  # what was believed on 9/1
    assert events[1]["replaces_event_id"] is None
    stored = await versions(residency, atena)
    assert [v["arrival"] for v in stored] == ["first_sight", "in_order", "late"]
    now = await current(residency, atena)
    assert now is not None
    assert now["change_id"] == died.change_id  # the record the upstream processed last
    assert now["is_resident"] is False
    assert now["latest_effective_date"] == date(2026, 9, 5)


async def test_a_change_delivered_after_a_later_processed_one_stays_history(residency: Platform) -> None:
    atena = unique_atena()
    entered = change(R.DOMESTIC_MOVE_IN, resident(atena), date(2026, 1, 10), processed=date(2026, 1, 10))
    named = change(R.NAME_CHANGE, resident(atena), date(2026, 6, 1), processed=date(2026, 6, 2))
    stale = change(R.MOVE_WITHIN_CITY, resident(atena), date(2026, 5, 1), processed=date(2026, 5, 1))
    await publish_in_rounds(residency, [[entered, named, stale]])

    now = await current(residency, atena)
    assert now is not None
    assert now["change_id"] == named.change_id
    events = await announced(residency, atena)
    assert events[2]["kind"] == "moved_within_city"
    assert events[2]["replaces_event_id"] == events[0]["event_id"]


async def test_a_cancelled_death_is_undone_and_the_cancellation_names_it(residency: Platform) -> None:
    atena = unique_atena()
    entered = change(R.DOMESTIC_MOVE_IN, resident(atena), date(2026, 1, 10))
    died = change(R.DEATH, resident(atena), date(2026, 9, 1))
    cancelled = change(R.CANCELLATION, resident(atena), date(2026, 9, 1), cancels=died.change_id)
    await publish_in_rounds(residency, [[entered, died, cancelled]])

    events = await announced(residency, atena)
    assert [e["kind"] for e in events] == ["moved_in_domestic", "died", "change_cancelled"]
    assert events[2]["cancels_event_id"] == events[1]["event_id"]
    assert events[2]["is_resident"] is True
    now = await current(residency, atena)
    assert now is not None
    assert now["change_id"] == entered.change_id
    stored = {v["change_id"]: v for v in await versions(residency, atena)}
    assert stored[died.change_id]["cancelled_by"] == cancelled.change_id


async def test_a_cancellation_arriving_first_is_parked_and_the_change_never_takes_effect(
    residency: Platform,
) -> None:
    atena = unique_atena()
    entered = change(R.DOMESTIC_MOVE_IN, resident(atena), date(2026, 1, 10))
    moved_out = change(R.MOVE_OUT_ABROAD, resident(atena), date(2026, 9, 1))
    cancelled = change(R.CANCELLATION, resident(atena), date(2026, 9, 1), cancels=moved_out.change_id)
    await publish_in_rounds(residency, [[entered, cancelled, moved_out]])

    assert [e["kind"] for e in await announced(residency, atena)] == ["moved_in_domestic"]
    stored = {v["change_id"]: v for v in await versions(residency, atena)}
    assert stored[moved_out.change_id]["cancelled_by"] == cancelled.change_id
    now = await current(residency, atena)
    assert now is not None
    assert now["is_resident"] is True


async def test_a_cancelled_first_entry_leaves_nobody(residency: Platform) -> None:
    atena = unique_atena()
    # Aged 76: no 資格取得 downstream (the 国保 transfer's monthly batch is shared by every test of the session).
    person = resident(atena, birth_date=date(1950, 1, 1))
    entered = change(R.MOVE_IN_FROM_ABROAD, person, date(2026, 3, 1))
    cancelled = change(R.CANCELLATION, person, date(2026, 3, 1), cancels=entered.change_id)
    await publish_in_rounds(residency, [[entered, cancelled]])

    events = await announced(residency, atena)
    assert [e["kind"] for e in events] == ["moved_in_from_abroad", "change_cancelled"]
    assert events[1]["is_resident"] is False
    assert await current(residency, atena) is None


async def test_a_change_for_an_unknown_person_registers_them_from_its_record(residency: Platform) -> None:
    atena = unique_atena()
    moved = change(R.MOVE_WITHIN_CITY, resident(atena), date(2026, 10, 1))
    await publish_in_rounds(residency, [[moved]])
    stored = await versions(residency, atena)
    assert [v["arrival"] for v in stored] == ["first_sight"]
    events = await announced(residency, atena)
    assert [e["kind"] for e in events] == ["moved_within_city"]
    assert events[0]["name"] == "浦和 花子"  # the full 宛名: a consumer that never heard of them can act


async def test_repeats_are_no_ops(residency: Platform) -> None:
    atena = unique_atena()
    moved = change(R.MOVE_WITHIN_CITY, resident(atena), date(2026, 10, 1))
    resent = moved.model_copy(update={"event_id": uuid.uuid4()})  # the same 異動番号 under another id
    await publish_in_rounds(residency, [[moved, moved, resent]])
    assert len(await versions(residency, atena)) == 1
    assert len(await announced(residency, atena)) == 1


def _mangle(body: dict[str, object], path: str, value: object) -> dict[str, object]:
    node: dict[str, object] = body
    *parents, last = path.split(".")
    for part in parents:
        node = node[part]  # type: ignore[assignment]
    if value is _DROP:
        del node[last]
    else:
        node[last] = value
    return body


_DROP = object()
BAD_INPUT = [
    ("unknown reason code", "reason", "teleported", "validation", "reason"),
    ("impossible date", "effective_date", "2026-02-30", "validation", "effective_date"),
    ("effective after processing, not a 転出", "effective_date", "2099-01-01", "validation", "処理日"),
    ("bad My Number check digit", "resident.my_number", "123456789012", "validation", "check digit"),
    ("missing required field", "resident.household_number", _DROP, "validation", "resident.household_number"),
]


async def test_bad_input_of_every_class_is_dead_lettered_with_a_specific_reason(residency: Platform) -> None:
    atena = unique_atena()
    good = change(R.NAME_CHANGE, resident(atena), date(2026, 11, 1))
    sent: dict[str, tuple[str, str]] = {}
    start = await residency.end_offsets(RESIDENT_CHANGED.dlq)
    async with residency.producer() as producer:
        for label, path, value, error_class, says in BAD_INPUT:
            bad = change(R.MOVE_WITHIN_CITY, resident(atena), date(2026, 10, 1))
            body = _mangle(json.loads(bad.model_dump_json()), path, value)
            sent[str(bad.event_id)] = (error_class, says)
            await producer.send_and_wait(
                RESIDENT_CHANGED.name,
                value=json.dumps(body, ensure_ascii=False).encode(),
                key=atena.encode(),
                headers=cloudevent_headers(bad, source="/test"),
            )
            del label
        # Wrong encoding: the upstream sent Shift_JIS instead of UTF-8.
        cp932 = change(R.MOVE_WITHIN_CITY, resident(atena), date(2026, 10, 2))
        sent[str(cp932.event_id)] = ("encoding", "not UTF-8")
        await producer.send_and_wait(
            RESIDENT_CHANGED.name,
            value=cp932.model_dump_json().encode("cp932"),
            key=atena.encode(),
            headers=cloudevent_headers(cp932, source="/test"),
        )
        await producer.send_and_wait(
            RESIDENT_CHANGED.name,
            value=good.model_dump_json().encode(),
            key=atena.encode(),
            headers=cloudevent_headers(good, source="/test"),
        )
    await eventually(lambda: applied(residency, [good.event_id]))

    def ours(records: list) -> list:  # type: ignore[type-arg]
        return [r for r in records if r.key == atena.encode()]

    dead = ours(await residency.read_from(RESIDENT_CHANGED.dlq, start, until=lambda rs: len(ours(rs)) >= len(sent)))
    assert {header_map(r.headers)["ce_id"] for r in dead} == set(sent)
    for record in dead:
        headers = header_map(record.headers)
        error_class, says = sent[headers["ce_id"]]
        assert headers["dlq_error_class"] == error_class
        assert says in headers["dlq_reason"], headers["dlq_reason"]
        assert "123456789012" not in headers["dlq_reason"]
    assert [v["change_id"] for v in await versions(residency, atena)] == [good.change_id]  # nothing half-written
