"""Kafka isolation by ACLs, on a real broker of its own: SASL_SSL with SCRAM-SHA-512, the StandardAuthorizer,
one principal per service and per department, ACLs generated from the topic registry.

The child-allowance department (移転先2) reads its own topic with a group under its own prefix; it is refused
the NHI department's topic and every internal topic, and a group outside its prefix.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import GroupAuthorizationFailedError, TopicAuthorizationFailedError
from kokunen_common import kafka_acls
from kokunen_common.database_setup import SERVICE_SCHEMAS
from kokunen_common.messaging import ensure_topics, idempotent_producer, kafka_client_kwargs
from kokunen_common.outbox import OutboxRelay, encode_headers, outbox_ddl
from kokunen_common.settings import ServiceSettings
from kokunen_contracts.registry import (
    CHILD_ALLOWANCE_BATCH_COMPLETED,
    CHILD_ALLOWANCE_TRANSFER,
    DEPT_CHILD_ALLOWANCE,
    NHI_QUALIFICATION_TRANSFER,
    QUALIFICATION_CHANGED,
    TOPICS,
    all_topic_names,
)
from kokunen_testing.infra import load_localstack
from kokunen_testing.platform import Platform

pytestmark = pytest.mark.integration

PASSWORDS = {name: secrets.token_hex(12) for name in kafka_acls.principals(TOPICS)}
SERVICES = tuple(s.service for s in SERVICE_SCHEMAS)
OWN_TOPICS = {CHILD_ALLOWANCE_TRANSFER.name, CHILD_ALLOWANCE_BATCH_COMPLETED.name}
"""What 子育て支援課 reads: its records and their batch-completed markers (ADR 0052)."""


@pytest.fixture(scope="module")
def secure_kafka() -> Iterator[Any]:
    """A second broker, secure, only for this module (the session's broker stays PLAINTEXT)."""
    localstack = load_localstack()
    run_dir = Path(tempfile.mkdtemp(prefix="kokunen-secure-kafka-"))
    try:
        kafka = localstack.start_kafka(run_dir / "kafka", security=localstack.KafkaSecurity())
    except Exception as exc:
        shutil.rmtree(run_dir, ignore_errors=True)
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"no secure Kafka broker: {exc}")
    try:
        yield kafka
    finally:
        kafka.stop()
        shutil.rmtree(run_dir, ignore_errors=True)


def as_principal(kafka: Any, name: str) -> ServiceSettings:
    return ServiceSettings(**kafka.client_config(name, PASSWORDS[name]))


@pytest.fixture(scope="module")
async def platform_acls(secure_kafka: Any) -> ServiceSettings:
    """Topics, users and ACLs as the platform (super user) sets them up; one record on every topic."""
    admin = ServiceSettings(**secure_kafka.client_config())
    await ensure_topics(admin, TOPICS)
    await kafka_acls.apply(admin, kafka_acls.acl_rules(TOPICS, services=SERVICES), PASSWORDS)
    producer = AIOKafkaProducer(**kafka_client_kwargs(admin), acks="all")
    await producer.start()
    try:
        for name in all_topic_names():
            await producer.send_and_wait(name, b'{"probe": true}', key=b"probe")
    finally:
        await producer.stop()
    return admin


async def read(settings: ServiceSettings, topic: str, group: str, timeout_s: float = 20.0) -> list[Any]:
    """Records of ``topic`` read as ``settings``' principal in ``group`` (raises what the broker refuses)."""
    consumer = AIOKafkaConsumer(
        topic,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **kafka_client_kwargs(settings),
    )
    try:
        await consumer.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            records = [r for items in batch.values() for r in items]
            if records:
                return records
        return []
    finally:
        await consumer.stop()


def test_the_acls_follow_the_registry() -> None:
    rules = kafka_acls.acl_rules(TOPICS, services=SERVICES)
    mine = [r for r in rules if r.principal == DEPT_CHILD_ALLOWANCE]
    assert {str(r) for r in mine} == {
        *(
            f"User:{DEPT_CHILD_ALLOWANCE} {op} topic:literal:{name}"
            for name in OWN_TOPICS
            for op in ("read", "describe")
        ),
        f"User:{DEPT_CHILD_ALLOWANCE} read group:prefixed:{DEPT_CHILD_ALLOWANCE}",
    }
    # No department may write anything, and no principal but the platform may touch another's group.
    assert not [r for r in rules if r.principal.startswith("dept-") and r.operation is not kafka_acls.Operation.READ
                and r.operation is not kafka_acls.Operation.DESCRIBE]  # fmt: skip


async def test_the_child_allowance_department_reads_its_own_topic(secure_kafka: Any, platform_acls: Any) -> None:
    dept = as_principal(secure_kafka, DEPT_CHILD_ALLOWANCE)
    records = await read(dept, CHILD_ALLOWANCE_TRANSFER.name, f"{DEPT_CHILD_ALLOWANCE}.monthly")
    assert [r.value for r in records] == [b'{"probe": true}']


async def test_the_child_allowance_department_is_refused_the_nhi_topic(secure_kafka: Any, platform_acls: Any) -> None:
    dept = as_principal(secure_kafka, DEPT_CHILD_ALLOWANCE)
    with pytest.raises(TopicAuthorizationFailedError):
        await read(dept, NHI_QUALIFICATION_TRANSFER.name, f"{DEPT_CHILD_ALLOWANCE}.monthly")


async def test_the_child_allowance_department_is_refused_every_internal_topic(
    secure_kafka: Any, platform_acls: Any
) -> None:
    dept = as_principal(secure_kafka, DEPT_CHILD_ALLOWANCE)
    others = [name for name in all_topic_names() if name not in OWN_TOPICS]
    assert len(others) >= 2 * len(TOPICS) - len(OWN_TOPICS)
    refused = []
    for name in others:
        with pytest.raises(TopicAuthorizationFailedError):
            await read(dept, name, f"{DEPT_CHILD_ALLOWANCE}.probe", timeout_s=10)
        refused.append(name)
    assert refused == others
    # It cannot even see that they exist: the metadata it gets names its own topics only.
    consumer = AIOKafkaConsumer(**kafka_client_kwargs(dept))
    await consumer.start()
    try:
        assert await consumer.topics() == OWN_TOPICS
    finally:
        await consumer.stop()


async def test_a_group_outside_the_department_prefix_is_refused(secure_kafka: Any, platform_acls: Any) -> None:
    dept = as_principal(secure_kafka, DEPT_CHILD_ALLOWANCE)
    with pytest.raises(GroupAuthorizationFailedError):
        await read(dept, CHILD_ALLOWANCE_TRANSFER.name, "dept-nhi.monthly")


async def test_a_service_writes_its_topic_and_not_another_services(secure_kafka: Any, platform_acls: Any) -> None:
    dispatch = as_principal(secure_kafka, "transfer_dispatch")
    producer = AIOKafkaProducer(**kafka_client_kwargs(dispatch), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(CHILD_ALLOWANCE_TRANSFER.name, b"{}", key=b"k")
        with pytest.raises(TopicAuthorizationFailedError):
            await producer.send_and_wait("eligibility.qualification-changed.v1", b"{}", key=b"k")
    finally:
        await producer.stop()


async def test_the_relay_quarantines_a_row_for_a_topic_its_service_may_not_write_and_publishes_the_rest(
    secure_kafka: Any, platform_acls: Any, platform: Platform
) -> None:
    """Issue 13: a row the broker refuses for its principal (here dispatch's outbox holding a row for eligibility's
    topic — a wrong registry entry, a mis-set ACL) is moved to the quarantine with the reason, and the rows
    around it are published: the relay does not stop on it."""
    schema = "relay_acl_probe"
    settings = as_principal(secure_kafka, "transfer_dispatch")
    conn = await platform.admin()
    await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    await conn.execute(f"CREATE SCHEMA {schema}")
    for statement in outbox_ddl(schema):
        await conn.execute(statement)
    keys = {
        "before": CHILD_ALLOWANCE_TRANSFER.name,
        "refused": QUALIFICATION_CHANGED.name,
        "after": CHILD_ALLOWANCE_TRANSFER.name,
    }
    marker = uuid.uuid4().hex.encode()
    try:
        for key, topic in keys.items():
            await conn.execute(
                f"INSERT INTO {schema}.outbox (event_id, topic, message_key, payload, headers) "
                "VALUES ($1, $2, $3, $4, $5::jsonb)",
                uuid.uuid4(),
                topic,
                f"acl-{key}",
                marker,
                encode_headers([("ce_id", key.encode())]),
            )
        relay = OutboxRelay(
            service=schema,
            schema=schema,
            database_url=platform.infra.admin_db_url,
            producer=idempotent_producer(settings),
            producer_factory=lambda: idempotent_producer(settings),
        )
        await relay.producer.start()
        try:
            assert await relay.publish_pending(conn) == 3
            assert await relay.publish_pending(conn) == 0  # nothing left waiting: the relay is not stuck
        finally:
            await relay.producer.stop()
        quarantined = await conn.fetch(f"SELECT message_key, topic, reason FROM {schema}.outbox_quarantine")
    finally:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await conn.close()
    assert [(r["message_key"], r["topic"]) for r in quarantined] == [("acl-refused", QUALIFICATION_CHANGED.name)]
    assert quarantined[0]["reason"].startswith("TopicAuthorizationFailedError")
    # The department's topic got both of the others (read as the platform), each once.
    consumer = AIOKafkaConsumer(
        CHILD_ALLOWANCE_TRANSFER.name,
        group_id=f"probe-{marker.decode()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **kafka_client_kwargs(platform_acls),
    )
    await consumer.start()
    ours: list[bytes | None] = []
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while len(ours) < 2 and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            ours += [r.key for items in batch.values() for r in items if r.value == marker]
    finally:
        await consumer.stop()
    assert sorted(k or b"" for k in ours) == [b"acl-after", b"acl-before"]
