"""Clear My Numbers are kept only as long as needed (issue 13 item 7, ADR 0012):

- residency.resident-changed.v1 and its dead-letter topic have a finite, configurable retention (every other
  topic keeps its events forever), also when the topics exist already;
- residency's dead-letter store deletes what is past that retention and records each deletion;
- a full replay of residency does not depend on the topic: with every record of it deleted (as retention will),
  the replayed slice equals the original, from residency's own sealed history.
"""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from kokunen_common.messaging import ensure_topics
from kokunen_common.outbox import purge_dead_letters
from kokunen_common.replay import replay
from kokunen_common.settings import ServiceSettings
from kokunen_contracts.registry import DAY_MS, PERSON_CHANGED, RESIDENT_CHANGED, TOPICS
from kokunen_contracts.residency import ChangeReason
from kokunen_testing.factories import change, resident
from kokunen_testing.platform import Platform, eventually, unique_atena

pytestmark = pytest.mark.integration


async def retention_of(platform: Platform, topics: list[str]) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=platform.bootstrap)
    await admin.start()
    try:
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t) for t in topics])
    finally:
        await admin.close()
    found = {}
    for response in responses:
        for resource in response.resources:
            name, entries = resource[3], resource[4]
            found[name] = next(int(e[1]) for e in entries if e[0] == "retention.ms")
    return found


async def test_only_the_topics_with_clear_my_numbers_have_a_finite_retention_and_it_is_configurable(
    platform: Platform,
) -> None:
    clear = [RESIDENT_CHANGED.name, RESIDENT_CHANGED.dlq]
    retained = await retention_of(platform, [*clear, PERSON_CHANGED.name, PERSON_CHANGED.dlq])
    assert retained == {
        RESIDENT_CHANGED.name: 30 * DAY_MS,
        RESIDENT_CHANGED.dlq: 30 * DAY_MS,
        PERSON_CHANGED.name: -1,
        PERSON_CHANGED.dlq: -1,
    }
    assert [t.name for t in TOPICS if t.clear_my_number] == [RESIDENT_CHANGED.name]
    settings = ServiceSettings(kafka_bootstrap_servers=platform.bootstrap)
    try:
        await ensure_topics(settings, TOPICS, clear_my_number_retention_days=7)  # the topics exist: altered
        await eventually(lambda: retained_for(platform, clear, 7 * DAY_MS))  # the metadata takes a moment
    finally:
        await ensure_topics(settings, TOPICS)
    await eventually(lambda: retained_for(platform, clear, 30 * DAY_MS))


async def retained_for(platform: Platform, topics: list[str], ms: int) -> bool:
    return await retention_of(platform, topics) == dict.fromkeys(topics, ms)


async def test_dead_letters_past_their_retention_are_deleted_and_the_deletion_recorded(platform: Platform) -> None:
    schema = "retention_probe"
    async with platform.probe_schema(schema) as conn:
        for age_days in (45, 31, 29, 0):
            await conn.execute(
                f"""INSERT INTO {schema}.dead_letter (id, source_topic, source_partition, source_offset, key,
                        header_names, header_values, value, reason, error_class, created_at)
                    VALUES ($1, 't', 0, 0, NULL, '{{}}', '{{}}', $2, 'r', 'validation',
                            now() - make_interval(days => $3))""",
                uuid.uuid4(),
                b'{"my_number": "123456789018"}',
                age_days,
            )
        assert await purge_dead_letters(conn, schema, 30) == 2
        assert await purge_dead_letters(conn, schema, 30) == 0  # nothing more: and nothing recorded
        assert await conn.fetchval(f"SELECT count(*) FROM {schema}.dead_letter") == 2
        records = await conn.fetch(f"SELECT retention_days, deleted, oldest, newest FROM {schema}.dead_letter_purge")
        assert [(r["retention_days"], r["deleted"]) for r in records] == [(30, 2)]
        assert records[0]["oldest"] < records[0]["newest"]


async def test_a_replay_of_residency_does_not_need_the_upstream_topic(platform: Platform) -> None:
    atena = unique_atena()
    moved, renamed, moved_again = (
        change(reason, resident(atena), date(2026, 11, day))
        for reason, day in (
            (ChangeReason.MOVE_WITHIN_CITY, 2),
            (ChangeReason.NAME_CHANGE, 3),
            (ChangeReason.MOVE_WITHIN_CITY, 4),
        )
    )

    async def applied(count: int) -> bool:
        conn = await platform.connect_as("residency_sync")
        try:
            versions = await conn.fetchval(
                "SELECT count(*) FROM residency.person_version WHERE atena_number = $1", atena
            )
            pending = await conn.fetchval("SELECT count(*) FROM residency.outbox WHERE published_at IS NULL")
            return bool(versions == count and pending == 0)
        finally:
            await conn.close()

    async with platform.build("residency_sync"):
        await platform.publish(RESIDENT_CHANGED, [moved, renamed])
        await eventually(lambda: applied(2), timeout_s=60)
        # What retention does, in one go: every record of the topic so far is gone ...
        ends = await platform.end_offsets(RESIDENT_CHANGED.name)
        admin = AIOKafkaAdminClient(bootstrap_servers=platform.bootstrap)
        await admin.start()
        try:
            await admin.delete_records(
                {TopicPartition(RESIDENT_CHANGED.name, p): RecordsToDelete(o) for p, o in ends.items() if o > 0},
                timeout_ms=30_000,
            )
        finally:
            await admin.close()
        # ... and a later change is still within it.
        await platform.publish(RESIDENT_CHANGED, [moved_again])
        await eventually(lambda: applied(3), timeout_s=60)
    before = await history(platform)
    settings = platform.settings("residency_sync")
    assert settings.migration_database_url is not None
    report = await replay(platform.build("residency_sync"), settings.migration_database_url.get_secret_value())
    assert report.records >= 1  # what the topic still holds is read again (and changes nothing) ...
    assert await history(platform) == before  # ... and the history older than the topic is all there
    assert sum(1 for row in before[0] if row[0] == atena) == 3


async def history(platform: Platform) -> list[list[tuple[object, ...]]]:
    conn = await platform.connect_as("residency_sync")
    try:
        return [
            [
                tuple(r)
                for r in await conn.fetch(
                    """SELECT atena_number, change_id, published_event_id, my_number_key_id,
                              encode(my_number_hash, 'hex') FROM residency.person_version ORDER BY change_id"""
                )
            ],
            [tuple(r) for r in await conn.fetch("SELECT * FROM residency.person ORDER BY atena_number")],
        ]
    finally:
        await conn.close()
