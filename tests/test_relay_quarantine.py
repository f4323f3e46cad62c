"""The relay never blocks on one row (issue 13): a row the broker refuses is quarantined with its reason and
the rows after it are published — whether the client refuses it before sending (larger than the producer's
limit) or the broker does (larger than the topic's ``max.message.bytes``, which also fails the small rows
that shared its producer batch: those are sent again alone and published)."""

from __future__ import annotations

import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from kokunen_common.messaging import idempotent_producer
from kokunen_common.outbox import OutboxRelay, encode_headers, outbox_ddl
from kokunen_common.telemetry import OUTBOX_QUARANTINED
from kokunen_testing.platform import Platform

pytestmark = pytest.mark.integration

SCHEMA = "relay_probe"


async def test_rows_the_broker_refuses_are_quarantined_and_the_rest_flow_on(platform: Platform) -> None:
    topic = f"probe.refusing-{uuid.uuid4().hex[:8]}.v1"
    admin_client = AIOKafkaAdminClient(bootstrap_servers=platform.bootstrap)
    await admin_client.start()
    try:
        await admin_client.create_topics([NewTopic(topic, 1, 1, topic_configs={"max.message.bytes": "4096"})])
    finally:
        await admin_client.close()
    conn = await platform.admin()
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        await conn.execute(f"CREATE SCHEMA {SCHEMA}")
        for statement in outbox_ddl(SCHEMA):
            await conn.execute(statement)
        rows = [
            ("small-1", b"a" * 100),
            ("too-large-for-the-client", b"b" * (2 * 1024 * 1024)),
            ("too-large-for-the-topic", b"c" * 20_000),
            ("small-2", b"d" * 100),
        ]
        for key, payload in rows:
            await conn.execute(
                f"INSERT INTO {SCHEMA}.outbox (event_id, topic, message_key, payload, headers) "
                "VALUES ($1, $2, $3, $4, $5::jsonb)",
                uuid.uuid4(),
                topic,
                key,
                payload,
                encode_headers([("ce_id", b"x"), ("x-empty", None)]),
            )
        settings = platform.settings("residency_sync")
        relay = OutboxRelay(
            service="relay_probe",
            schema=SCHEMA,
            database_url=platform.infra.admin_db_url,
            producer=idempotent_producer(settings),
            producer_factory=lambda: idempotent_producer(settings),
        )
        await relay.producer.start()
        quarantined_before = OUTBOX_QUARANTINED.labels("relay_probe", topic)._value.get()
        try:
            assert await relay.publish_pending(conn) == 4
            assert await relay.publish_pending(conn) == 0  # nothing left waiting: the relay is not stuck
        finally:
            await relay.producer.stop()
        published = await conn.fetch(
            f"SELECT message_key FROM {SCHEMA}.outbox WHERE published_at IS NOT NULL ORDER BY id"
        )
        quarantined = await conn.fetch(f"SELECT message_key, reason FROM {SCHEMA}.outbox_quarantine ORDER BY id")
    finally:
        await conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        await conn.close()
    assert [r["message_key"] for r in published] == ["small-1", "small-2"]
    assert [r["message_key"] for r in quarantined] == ["too-large-for-the-client", "too-large-for-the-topic"]
    assert quarantined[0]["reason"].startswith("MessageSizeTooLargeError")
    assert "TooLarge" in quarantined[1]["reason"]
    assert OUTBOX_QUARANTINED.labels("relay_probe", topic)._value.get() == quarantined_before + 2
