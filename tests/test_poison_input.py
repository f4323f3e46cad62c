"""The cases reported from outside (issue 13), reproduced on the real broker and database:

- a malformed message whose Kafka key holds a NUL byte: its dead letter keeps the raw key and the partition
  moves on (it used to roll the batch back and be redelivered forever);
- a header value that is not UTF-8 (in ``ce_type``): the message is dead-lettered by the service's own tolerant
  header decoding, and the valid events of the same batch are applied (faststream's batch parser used to fail
  before our code ran and the whole batch vanished);
- a body just under the broker's 1 MiB limit with a validation error: the dead letter publishes a reference and a
  prefix, the original stays in the database, and later outbox rows are not stuck behind it;
- a message whose handling never completes is dead-lettered as poison after a bounded number of deliveries.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import ConsumerRecord
from kokunen_common.messaging import Delivery, UnitOfWork
from kokunen_common.outbox import outbox_ddl
from kokunen_common.service import ServiceDefinition, ServiceRuntime
from kokunen_common.telemetry import POISON_MESSAGES
from kokunen_contracts.envelope import cloudevent_headers, header_map
from kokunen_contracts.registry import PERSON_CHANGED, RESIDENT_CHANGED
from kokunen_contracts.residency import ChangeReason
from kokunen_testing.factories import change, resident
from kokunen_testing.platform import Platform, eventually, unique_atena
from structlog.testing import capture_logs

pytestmark = pytest.mark.integration


async def _has_change(platform: Platform, change_id: str) -> bool:
    conn = await platform.connect_as("residency_sync")
    try:
        return bool(await conn.fetchval("SELECT 1 FROM residency.person_version WHERE change_id = $1", change_id))
    finally:
        await conn.close()


def _from(records: list[Any], source_offsets: set[int]) -> list[Any]:
    return [r for r in records if int(header_map(r.headers).get("dlq_source_offset", "-1")) in source_offsets]


async def _send(platform: Platform, items: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]]) -> list[int]:
    """Send (key, value, headers) to one partition of the upstream topic, in order; their offsets."""
    offsets = []
    async with platform.producer() as producer:
        for key, value, headers in items:
            meta = await producer.send_and_wait(
                RESIDENT_CHANGED.name, value=value, key=key, headers=headers, partition=3
            )
            offsets.append(meta.offset)
    return offsets


async def test_a_key_with_a_nul_byte_is_dead_lettered_with_its_raw_key_and_the_partition_moves_on(
    platform: Platform,
) -> None:
    atena = unique_atena()
    canary = change(ChangeReason.NAME_CHANGE, resident(atena), date(2026, 11, 6))
    bad = change(ChangeReason.MOVE_WITHIN_CITY, resident(atena), date(2026, 11, 5))
    raw_key = b"12\x0034\xff"
    start = await platform.end_offsets(RESIDENT_CHANGED.dlq)
    offsets = await _send(
        platform,
        [
            (raw_key, b'{"not": "json', cloudevent_headers(bad, source="/test")),
            (atena.encode(), canary.model_dump_json().encode(), cloudevent_headers(canary, source="/test")),
        ],
    )
    async with platform.build("residency_sync"):
        await eventually(lambda: _has_change(platform, canary.change_id), timeout_s=60)
        dead = _from(
            await platform.read_from(RESIDENT_CHANGED.dlq, start, until=lambda rs: _from(rs, {offsets[0]})),
            {offsets[0]},
        )
    assert len(dead) == 1
    assert dead[0].key == raw_key
    assert header_map(dead[0].headers)["dlq_error_class"] == "malformed_json"


async def test_a_header_that_is_not_utf8_is_dead_lettered_and_the_rest_of_its_batch_applied(
    platform: Platform,
) -> None:
    atenas = [unique_atena() for _ in range(3)]
    before, after = (
        change(ChangeReason.NAME_CHANGE, resident(atenas[0]), date(2026, 11, 6)),
        change(ChangeReason.NAME_CHANGE, resident(atenas[2]), date(2026, 11, 6)),
    )
    bad = change(ChangeReason.NAME_CHANGE, resident(atenas[1]), date(2026, 11, 6))
    bad_headers = [
        (k, b"jp.kokunen.\x83\x5c\xff" if k == "ce_type" else v) for k, v in cloudevent_headers(bad, source="/t")
    ]
    bad_headers.append(("x-empty", None))  # type: ignore[arg-type]  # a header without a value
    start = await platform.end_offsets(RESIDENT_CHANGED.dlq)
    # All three are in the partition before the service starts, so they arrive in one batch.
    offsets = await _send(
        platform,
        [
            (atenas[0].encode(), before.model_dump_json().encode(), cloudevent_headers(before, source="/t")),
            (atenas[1].encode(), bad.model_dump_json().encode(), bad_headers),
            (atenas[2].encode(), after.model_dump_json().encode(), cloudevent_headers(after, source="/t")),
        ],
    )
    async with platform.build("residency_sync"):
        await eventually(lambda: _has_change(platform, after.change_id), timeout_s=60)
        assert await _has_change(platform, before.change_id)
        dead = _from(
            await platform.read_from(RESIDENT_CHANGED.dlq, start, until=lambda rs: _from(rs, {offsets[1]})),
            {offsets[1]},
        )
    assert len(dead) == 1
    headers = dict(dead[0].headers)
    assert headers["ce_type"] == b"jp.kokunen.\x83\x5c\xff"  # the original bytes, not a decoded copy
    assert headers["dlq_error_class"] == b"envelope"
    assert b"ce_type" in headers["dlq_reason"]
    assert b"UTF-8" in headers["dlq_reason"]


async def test_a_dead_letter_too_large_for_the_broker_publishes_a_reference_and_later_rows_flow(
    platform: Platform,
) -> None:
    atena = unique_atena()
    bad = change(ChangeReason.NAME_CHANGE, resident(atena), date(2026, 11, 6))
    body = json.loads(bad.model_dump_json())
    body["resident"]["my_number"] = "x"  # a validation error ...
    body["padding"] = "z" * (1024 * 1024 - 600 - len(json.dumps(body)))  # ... in a body just under 1 MiB
    value = json.dumps(body).encode()
    assert 1024 * 1024 - 1000 < len(value) < 1024 * 1024
    canary = change(ChangeReason.NAME_CHANGE, resident(unique_atena()), date(2026, 11, 7))
    start_dlq = await platform.end_offsets(RESIDENT_CHANGED.dlq)
    start_person = await platform.end_offsets(PERSON_CHANGED.name)
    offsets = await _send(
        platform,
        [
            (atena.encode(), value, cloudevent_headers(bad, source="/t")),
            (
                canary.resident.atena_number.encode(),
                canary.model_dump_json().encode(),
                cloudevent_headers(canary, source="/t"),
            ),
        ],
    )
    canary_key = canary.resident.atena_number.encode()
    async with platform.build("residency_sync"):
        published = await platform.read_from(
            PERSON_CHANGED.name, start_person, until=lambda rs: any(r.key == canary_key for r in rs), timeout_s=60
        )
        assert any(r.key == canary_key for r in published), "the event after the big dead letter never left"
        dead = _from(
            await platform.read_from(RESIDENT_CHANGED.dlq, start_dlq, until=lambda rs: _from(rs, {offsets[0]})),
            {offsets[0]},
        )
    assert len(dead) == 1
    headers = header_map(dead[0].headers)
    assert headers["dlq_error_class"] == "validation"
    assert headers["dlq_original_size"] == str(len(value))
    assert value.startswith(dead[0].value)
    assert len(dead[0].value) < 128 * 1024
    ref = headers["dlq_original_ref"]
    conn = await platform.connect_as("residency_sync")
    try:
        kept = await conn.fetchval("SELECT value FROM residency.dead_letter WHERE id = $1::uuid", ref)
    finally:
        await conn.close()
    assert bytes(kept) == value
    await asyncio.sleep(0)


async def test_a_message_delivered_again_and_again_without_progress_is_dead_lettered_as_poison(
    platform: Platform,
) -> None:
    """A handler that fails in a way retrying never fixes, though it looks transient (here: a deadlock each
    time), used to send its batch back to Kafka forever. Past ``poison_redeliveries`` the message is
    dead-lettered as poison; the messages around it are applied once."""
    schema = "poison_probe"
    group = f"poison-probe-{uuid.uuid4()}"
    await _probe_schema(platform, schema, "event_id uuid PRIMARY KEY")
    await platform.group_at_end(group, RESIDENT_CHANGED.name)  # the probe reads only what this test sends

    atena = unique_atena()
    before, poison, after = (
        change(ChangeReason.NAME_CHANGE, resident(atena), date(2026, 11, day)) for day in (6, 7, 8)
    )

    async def handler(delivery: Delivery[Any], uow: UnitOfWork) -> None:
        if delivery.event_id == poison.event_id:
            raise asyncpg.exceptions.DeadlockDetectedError("deadlock detected")  # transient by its SQLSTATE
        await uow.conn.execute(f"INSERT INTO {schema}.applied VALUES ($1)", delivery.event_id)

    async def applied() -> list[uuid.UUID]:
        conn = await platform.admin()
        try:
            return [r["event_id"] for r in await conn.fetch(f"SELECT event_id FROM {schema}.applied")]
        finally:
            await conn.close()

    definition = ServiceDefinition(name="poison_probe", schema=schema, migrations_dir=Path("."))
    settings = platform.settings(
        "residency_sync",
        database_url=platform.infra.admin_db_url,
        transient_retry_budget_s=0.2,
        poison_redeliveries=3,
        consumer_group=group,
    )
    runtime = ServiceRuntime(definition, settings)
    runtime.consumer.subscribe(RESIDENT_CHANGED, handler)
    poisoned_before = POISON_MESSAGES.labels("poison_probe", RESIDENT_CHANGED.name)._value.get()
    await platform.publish(RESIDENT_CHANGED, [before, poison, after])
    with capture_logs() as logged:
        await runtime.start(relay=False)
        try:

            async def dead_letter() -> Any:
                conn = await platform.admin()
                try:
                    return await conn.fetchrow(f"SELECT reason, error_class FROM {schema}.dead_letter")
                finally:
                    await conn.close()

            letter = await eventually(dead_letter, timeout_s=120)
            await eventually(lambda: _has(applied, after.event_id), timeout_s=60)
        finally:
            await runtime.stop()
    (error,) = [r for r in logged if r["event"] == "poison message dead-lettered"]  # one error line, once
    assert (error["log_level"], error["deliveries"], error["topic"]) == ("error", 4, RESIDENT_CHANGED.name)
    assert letter["error_class"] == "poison"
    assert "delivered 4 times" in letter["reason"]
    assert sorted(await applied()) == sorted([before.event_id, after.event_id])  # the poison changed nothing
    assert POISON_MESSAGES.labels("poison_probe", RESIDENT_CHANGED.name)._value.get() == poisoned_before + 1


async def _probe_schema(platform: Platform, schema: str, applied_columns: str) -> None:
    """A schema of its own for a probe service: inbox, outbox, dead letters, and a table of what it applied."""
    admin = await platform.admin()
    try:
        await admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await admin.execute(f"CREATE SCHEMA {schema}")
        for statement in outbox_ddl(schema):
            await admin.execute(statement)
        await admin.execute(f"CREATE TABLE {schema}.applied ({applied_columns})")
    finally:
        await admin.close()


async def _has(applied: Any, event_id: uuid.UUID) -> bool:
    return event_id in await applied()


async def test_a_batch_applied_at_once_dead_letters_the_message_it_fails_on_and_applies_the_others_once(
    platform: Platform,
) -> None:
    """A handler that gathers the batch and applies it at once (``finish_batch``, the stream path of issue 12)
    fails on one message: the batch is applied again with each message finished alone in its savepoint, that
    message is dead-lettered with its handler's reason, the others are applied once — also when Kafka delivers
    the batch again."""
    schema = "batch_probe"
    await _probe_schema(platform, schema, "n serial, event_id uuid PRIMARY KEY")
    atena = unique_atena()
    first, bad, last = (change(ChangeReason.NAME_CHANGE, resident(atena), date(2026, 11, day)) for day in (6, 7, 8))

    class AtOnce:
        async def __call__(self, delivery: Delivery[Any], uow: UnitOfWork) -> None:
            uow.batch.setdefault("ids", []).append(delivery.event_id)

        async def finish_batch(self, uow: UnitOfWork) -> None:
            ids = uow.batch.pop("ids", [])
            if bad.event_id in ids:
                raise ValueError("the 異動 names a person the slice does not hold")
            await uow.conn.execute(f"INSERT INTO {schema}.applied (event_id) SELECT unnest($1::uuid[])", ids)

    definition = ServiceDefinition(name="batch_probe", schema=schema, migrations_dir=Path("."))
    runtime = ServiceRuntime(definition, platform.settings("residency_sync", database_url=platform.infra.admin_db_url))
    handler = AtOnce()
    runtime.consumer.subscribe(RESIDENT_CHANGED, handler)
    records = [
        ConsumerRecord(
            topic=RESIDENT_CHANGED.name,
            partition=1,
            offset=n,
            timestamp=0,
            timestamp_type=0,
            key=RESIDENT_CHANGED.key_of(e).encode(),
            value=e.model_dump_json().encode(),
            checksum=None,
            serialized_key_size=10,
            serialized_value_size=0,
            headers=cloudevent_headers(e, source="/test"),
        )
        for n, e in enumerate((first, bad, last))
    ]
    await runtime.start(consumers=False, relay=False)
    try:
        for _ in range(2):  # delivered, then delivered again
            await runtime.consumer.apply_batch(RESIDENT_CHANGED, handler, records)
    finally:
        await runtime.stop()
    conn = await platform.admin()
    try:
        applied = [r["event_id"] for r in await conn.fetch(f"SELECT event_id FROM {schema}.applied ORDER BY n")]
        letters = await conn.fetch(f"SELECT reason, error_class FROM {schema}.dead_letter")
    finally:
        await conn.close()
    assert applied == [first.event_id, last.event_id]
    assert [(r["error_class"], r["reason"]) for r in letters] == [
        ("handler", "handler: ValueError: the 異動 names a person the slice does not hold")
    ]
