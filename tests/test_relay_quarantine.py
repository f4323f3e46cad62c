"""The relay never blocks on one row (issue 13): a row the broker refuses is quarantined with its reason and
the rows after it are published — whether the client refuses it before sending (larger than the producer's
limit) or the broker does (larger than the topic's ``max.message.bytes``, which also fails the small rows
that shared its producer batch: those are sent again alone and published)."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError
from kokunen_common.messaging import idempotent_producer
from kokunen_common.outbox import OutboxRelay, encode_headers, outbox_ddl
from kokunen_common.telemetry import OUTBOX_QUARANTINED
from kokunen_testing.platform import Platform

pytestmark = pytest.mark.integration

SCHEMA = "relay_probe"


async def _topic_and_outbox(platform: Platform, topic: NewTopic, schema: str) -> asyncpg.Connection:
    """A probe topic and a schema with an outbox of its own; the admin connection (the caller drops the schema)."""
    admin_client = AIOKafkaAdminClient(bootstrap_servers=platform.bootstrap)
    await admin_client.start()
    try:
        await admin_client.create_topics([topic])
    finally:
        await admin_client.close()
    conn = await platform.admin()
    await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    await conn.execute(f"CREATE SCHEMA {schema}")
    for statement in outbox_ddl(schema):
        await conn.execute(statement)
    return conn


async def test_rows_the_broker_refuses_are_quarantined_and_the_rest_flow_on(platform: Platform) -> None:
    topic = f"probe.refusing-{uuid.uuid4().hex[:8]}.v1"
    conn = await _topic_and_outbox(platform, NewTopic(topic, 1, 1, topic_configs={"max.message.bytes": "4096"}), SCHEMA)
    try:
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


async def test_the_relay_keeps_each_keys_order_through_record_batches_and_large_rows(platform: Platform) -> None:
    """The relay hands rows to the producer as record batches per partition (issue 12), a large row alone: each
    key's rows still arrive in outbox order, each once, in the partition ``send`` picks for the key."""
    topic = f"probe.ordered-{uuid.uuid4().hex[:8]}.v1"
    schema = "relay_order_probe"
    keys = [f"0000{n:06d}" for n in range(5)]
    sent = [(keys[i % 5], f"{i:03d}".encode() + (b"x" * 70_000 if i % 13 == 6 else b"")) for i in range(60)]
    conn = await _topic_and_outbox(platform, NewTopic(topic, 3, 1), schema)
    settings = platform.settings("residency_sync")
    relay = OutboxRelay(
        service="relay_order_probe",
        schema=schema,
        database_url=platform.infra.admin_db_url,
        producer=idempotent_producer(settings),
        batch_size=25,
    )
    try:
        await conn.executemany(
            f"INSERT INTO {schema}.outbox (event_id, topic, message_key, payload, headers) "
            "VALUES ($1, $2, $3, $4, $5::jsonb)",
            [(uuid.uuid4(), topic, key, payload, encode_headers([("ce_id", payload[:3])])) for key, payload in sent],
        )
        await relay.producer.start()
        try:
            while await relay.publish_pending(conn):
                pass
            # Where the producer's own send puts each key: the relay's batches must agree.
            by_send = {
                key: (await (await relay.producer.send(topic, b"probe", key=key.encode()))).partition for key in keys
            }
        finally:
            await relay.producer.stop()
    finally:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await conn.close()
    records = await platform.read_from(topic, {0: 0, 1: 0, 2: 0}, until=lambda got: len(got) >= len(sent) + len(keys))
    relayed = sorted((r for r in records if r.value != b"probe"), key=lambda r: (r.partition, r.offset))
    assert sorted(r.value for r in relayed) == sorted(payload for _, payload in sent)  # each once
    for key in keys:
        mine = [r for r in relayed if r.key == key.encode()]
        assert {r.partition for r in mine} == {by_send[key]}
        assert [r.value for r in mine] == [payload for k, payload in sent if k == key]  # outbox order


async def test_a_producer_renewal_that_fails_while_the_broker_is_away_does_not_stall_the_relay(
    platform: Platform,
) -> None:
    """After the broker fails a batch the relay renews its producer — usually while the broker is still away (a
    slow restart outlasting the producer's request timeout), so the new producer cannot start. The relay must keep
    a producer that can still connect and renew it again before its next cycle: an aiokafka producer whose start
    failed never fetches metadata again, and the relay waited on it forever (no event left a service again)."""
    topic = f"probe.renewal-{uuid.uuid4().hex[:8]}.v1"
    schema = "relay_renewal_probe"
    conn = await _topic_and_outbox(platform, NewTopic(topic, 1, 1), schema)
    settings = platform.settings("residency_sync")
    # The first renewal meets a broker that refuses connections; later ones the test's broker.
    away = [AIOKafkaProducer(bootstrap_servers="127.0.0.1:1", enable_idempotence=True, acks="all")]
    relay = OutboxRelay(
        service="relay_renewal_probe",
        schema=schema,
        database_url=platform.infra.admin_db_url,
        producer=idempotent_producer(settings),
        producer_factory=lambda: away.pop() if away else idempotent_producer(settings),
    )
    payloads = [f"renewal-{n}".encode() for n in range(3)]
    try:
        await conn.executemany(
            f"INSERT INTO {schema}.outbox (event_id, topic, message_key, payload, headers) "
            "VALUES ($1, $2, $3, $4, $5::jsonb)",
            [(uuid.uuid4(), topic, "k", payload, encode_headers([("ce_id", b"x")])) for payload in payloads],
        )
        await relay.producer.start()
        try:
            with pytest.raises(KafkaConnectionError):
                await relay._renew_producer()
            # A generous deadline only for the defect's case: the cycle never returned.
            await asyncio.wait_for(relay.cycle(conn, asyncio.Event()), timeout=120)
        finally:
            await relay.producer.stop()
        published = await conn.fetchval(f"SELECT count(*) FROM {schema}.outbox WHERE published_at IS NOT NULL")
    finally:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await conn.close()
    assert published == len(payloads)
    records = await platform.read_from(topic, {0: 0}, until=lambda got: len(got) >= len(payloads))
    assert [r.value for r in records] == payloads
