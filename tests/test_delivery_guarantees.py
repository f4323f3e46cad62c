"""Nothing lost, nothing doubled — on the real broker and database.

- the same event delivered twice has one effect;
- a service killed after its database commit but before its offset commit has one effect once restarted;
- malformed JSON and a bad My Number go to the dead-letter topic with a clear reason, and later events
  on the same partition are still processed;
- PostgreSQL stopped for 10 s mid-stream: the service retries and nothing is lost.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from datetime import date

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from kokunen_contracts.envelope import cloudevent_headers, header_map
from kokunen_contracts.registry import RESIDENT_CHANGED
from kokunen_contracts.residency import ChangeReason
from kokunen_testing.factories import change, resident
from kokunen_testing.platform import Platform, eventually, unique_atena, versions_of

pytestmark = pytest.mark.integration


async def person_events_of(platform: Platform, atena: str) -> int:
    conn = await platform.connect_as("residency_sync")
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM residency.outbox WHERE topic = 'residency.person-changed.v1' AND message_key = $1",
            atena,
        )
        return count
    finally:
        await conn.close()


async def test_the_same_event_delivered_twice_has_one_effect(platform: Platform) -> None:
    atena = unique_atena()
    moved = change(ChangeReason.MOVE_WITHIN_CITY, resident(atena), date(2026, 11, 2))
    same_change_new_id = moved.model_copy(update={"event_id": uuid.uuid4()})  # upstream re-sent the 異動
    marker = change(ChangeReason.NAME_CHANGE, resident(atena), date(2026, 11, 3))
    async with platform.build("residency_sync"):
        await platform.publish(RESIDENT_CHANGED, [moved, moved, same_change_new_id, marker])
        await eventually(lambda: versions_of(platform, atena))
        await eventually(lambda: _has_change(platform, marker.change_id))
    assert await versions_of(platform, atena) == 2  # the move once, the name change once
    assert await person_events_of(platform, atena) == 2


async def _has_change(platform: Platform, change_id: str) -> bool:
    conn = await platform.connect_as("residency_sync")
    try:
        return bool(await conn.fetchval("SELECT 1 FROM residency.person_version WHERE change_id = $1", change_id))
    finally:
        await conn.close()


async def committed_offsets(platform: Platform, group: str) -> dict[tuple[str, int], int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=platform.bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
        return {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}
    finally:
        await admin.close()


def run_service(platform: Platform, service: str, **extra_env: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, **platform.service_env(service), **extra_env}
    return subprocess.Popen([sys.executable, "-m", service, "run"], env=env)


async def test_a_service_killed_between_database_commit_and_offset_commit_applies_once(platform: Platform) -> None:
    atena = unique_atena()
    moved = change(ChangeReason.MOVE_WITHIN_CITY, resident(atena), date(2026, 11, 4))
    await platform.publish(RESIDENT_CHANGED, [moved])

    crashing = run_service(platform, "residency_sync", FAULT_EXIT_AFTER_COMMIT="true")
    try:
        code = await asyncio.wait_for(asyncio.to_thread(crashing.wait), timeout=60)
    finally:
        if crashing.poll() is None:
            crashing.kill()
    assert code == 70, "the fault hook did not fire: the service exited for another reason"
    assert await versions_of(platform, atena) == 1  # the database commit happened

    partition_offsets = await _offset_of(platform, moved.event_id)
    committed = await committed_offsets(platform, "residency_sync")
    assert committed.get(partition_offsets[0], -1) <= partition_offsets[1]  # ... the offset commit did not

    restarted = run_service(platform, "residency_sync")
    try:

        async def offset_committed() -> bool:
            after = await committed_offsets(platform, "residency_sync")
            return after.get(partition_offsets[0], -1) > partition_offsets[1]

        await eventually(offset_committed, timeout_s=60)  # the message was delivered again and acknowledged
    finally:
        restarted.terminate()
        await asyncio.to_thread(restarted.wait, 30)
    assert await versions_of(platform, atena) == 1
    assert await person_events_of(platform, atena) == 1


async def _offset_of(platform: Platform, event_id: uuid.UUID) -> tuple[tuple[str, int], int]:
    """Where an event sits in the upstream topic, read back from the inbox that claimed it."""
    conn = await platform.connect_as("residency_sync")
    try:
        row = await conn.fetchrow(
            'SELECT topic, partition, "offset" FROM residency.inbox WHERE message_key = $1', str(event_id)
        )
    finally:
        await conn.close()
    assert row is not None
    return (row["topic"], row["partition"]), row["offset"]


async def test_bad_input_is_dead_lettered_with_a_reason_and_the_partition_moves_on(platform: Platform) -> None:
    atena = unique_atena()
    before = change(ChangeReason.MOVE_WITHIN_CITY, resident(atena), date(2026, 11, 5))
    after = change(ChangeReason.NAME_CHANGE, resident(atena), date(2026, 11, 6))
    bad_number = change(ChangeReason.ALIAS, resident(atena), date(2026, 11, 6))
    body = json.loads(bad_number.model_dump_json())
    body["resident"]["my_number"] = "123456789012"  # check digit should be 8
    malformed_id = uuid.uuid4()
    malformed_headers = cloudevent_headers(before.model_copy(update={"event_id": malformed_id}), source="/test")

    start = await platform.end_offsets(RESIDENT_CHANGED.dlq)
    async with platform.producer() as producer:
        key = atena.encode()  # same key → same partition, in this order
        for value, headers in (
            (before.model_dump_json().encode(), cloudevent_headers(before, source="/test")),
            (b'{"event_id": "oops", "resident": ', malformed_headers),
            (json.dumps(body).encode(), cloudevent_headers(bad_number, source="/test")),
            (after.model_dump_json().encode(), cloudevent_headers(after, source="/test")),
        ):
            await producer.send_and_wait(RESIDENT_CHANGED.name, value=value, key=key, headers=headers)

    def ours(records: list) -> list:
        return [r for r in records if r.key == atena.encode()]

    async with platform.build("residency_sync"):
        await eventually(lambda: _has_change(platform, after.change_id))
        dead = ours(await platform.read_from(RESIDENT_CHANGED.dlq, start, until=lambda rs: len(ours(rs)) >= 2))

    assert await versions_of(platform, atena) == 2  # before and after; the two bad ones changed nothing
    assert len(dead) == 2
    by_id = {header_map(r.headers)["ce_id"]: r for r in dead}
    malformed = header_map(by_id[str(malformed_id)].headers)
    assert malformed["dlq_error_class"] == "malformed_json"
    assert "Invalid JSON" in malformed["dlq_reason"]
    assert by_id[str(malformed_id)].value == b'{"event_id": "oops", "resident": '  # the original bytes
    invalid = header_map(by_id[str(bad_number.event_id)].headers)
    assert invalid["dlq_error_class"] == "validation"
    assert "resident.my_number" in invalid["dlq_reason"]
    assert "check digit" in invalid["dlq_reason"]
    assert "123456789012" not in invalid["dlq_reason"]
    assert invalid["dlq_source_topic"] == RESIDENT_CHANGED.name


async def test_database_down_for_ten_seconds_mid_stream_loses_nothing(platform: Platform) -> None:
    if platform.infra.stop_database is None or platform.infra.start_database is None:
        pytest.skip(f"PostgreSQL comes from {platform.infra.source}: this test can only stop one it started")
    atenas = [unique_atena() for _ in range(40)]
    events = [change(ChangeReason.MOVE_WITHIN_CITY, resident(a), date(2026, 11, 7)) for a in atenas]

    async def applied() -> int:
        conn = await platform.connect_as("residency_sync")
        try:
            count: int = await conn.fetchval(
                "SELECT count(*) FROM residency.person_version WHERE atena_number = ANY($1::text[])", atenas
            )
            return count
        finally:
            await conn.close()

    async with platform.build("residency_sync"):
        await platform.publish(RESIDENT_CHANGED, events[:20])
        await eventually(lambda: _at_least(applied, 20))
        await asyncio.to_thread(platform.infra.stop_database)
        try:
            await platform.publish(RESIDENT_CHANGED, events[20:])  # arrive while the database is down
            await asyncio.sleep(10)
        finally:
            await asyncio.to_thread(platform.infra.start_database)
        await eventually(lambda: _at_least(applied, 40), timeout_s=90)
    assert await applied() == 40  # every event once: none lost, none doubled


async def _at_least(count: object, n: int) -> bool:
    return bool(await count() >= n)  # type: ignore[operator]
