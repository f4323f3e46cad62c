"""residency_sync's handler on faststream's in-memory broker (TestKafkaBroker) and the real database:
fast, no Kafka, and the same code path from raw record to outbox."""

from __future__ import annotations

import json
from datetime import date

import pytest
from faststream.kafka import TestKafkaBroker
from kokunen_contracts.envelope import cloudevent_headers
from kokunen_contracts.registry import RESIDENT_CHANGED
from kokunen_contracts.residency import ChangeReason, PersonChanged
from kokunen_testing.factories import change, resident
from kokunen_testing.platform import Platform, unique_atena

pytestmark = pytest.mark.integration


async def publish(broker, event) -> None:
    await broker.publish(
        event.model_dump_json().encode(),
        RESIDENT_CHANGED.name,
        key=event.resident.atena_number.encode(),
        headers={k: v.decode() for k, v in cloudevent_headers(event, source="/test")},
    )


async def forget(platform: Platform, atena: str, event_id: object) -> None:
    """This test's event never reached the real broker: leave no trace in the slice that a replay from the
    topics could not explain."""
    admin = await platform.admin()
    try:
        async with admin.transaction():
            await admin.execute("DELETE FROM residency.person WHERE atena_number = $1", atena)
            await admin.execute("DELETE FROM residency.person_version WHERE atena_number = $1", atena)
            await admin.execute("DELETE FROM residency.outbox WHERE message_key = $1", atena)
            await admin.execute("DELETE FROM residency.inbox WHERE message_key = $1", str(event_id))
    finally:
        await admin.close()


async def test_a_death_is_stored_and_announced_with_my_number_sealed(platform: Platform) -> None:
    atena = unique_atena()
    person = resident(atena)
    died = change(ChangeReason.DEATH, person, date(2026, 11, 10))
    runtime = platform.build("residency_sync")
    await runtime.start(consumers=False, relay=False)
    try:
        async with TestKafkaBroker(runtime.broker) as broker:
            await publish(broker, died)
        async with runtime.pool.acquire() as conn:
            version = await conn.fetchrow("SELECT * FROM residency.person_version WHERE atena_number = $1", atena)
            current = await conn.fetchrow("SELECT * FROM residency.person WHERE atena_number = $1", atena)
            outbox = await conn.fetch("SELECT payload FROM residency.outbox WHERE message_key = $1", atena)
    finally:
        await runtime.stop()
        await forget(platform, atena, died.event_id)

    assert version["reason"] == "death"
    assert version["is_resident"] is False
    assert version["effective_date"] == date(2026, 11, 10)
    assert current["current_version_id"] == version["version_id"]
    assert person.my_number is not None
    clear = person.my_number.reveal()
    assert clear not in (version["my_number_sealed"] or "")
    assert platform.vault().open(version["my_number_sealed"], atena) == person.my_number
    assert len(outbox) == 1
    announced = PersonChanged.model_validate_json(bytes(outbox[0]["payload"]))
    assert announced.kind.value == "died"
    assert announced.is_resident is False
    assert clear not in json.dumps(json.loads(bytes(outbox[0]["payload"])))
    assert platform.vault().open(announced.my_number_sealed or "", atena) == person.my_number
