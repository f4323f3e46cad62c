"""The platform under test: real Kafka and PostgreSQL, every schema migrated, every topic created,
and settings for each service (its own database role)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from kokunen_common.crypto import MyNumberVault
from kokunen_common.database_setup import BY_SERVICE, url_for_role
from kokunen_common.messaging import publish_events
from kokunen_common.outbox import outbox_ddl
from kokunen_common.platform import prepare, service_app
from kokunen_common.service import ServiceRuntime
from kokunen_common.settings import ServiceSettings
from kokunen_contracts.envelope import Event
from kokunen_contracts.registry import BY_NAME, DLQ_PARTITIONS, DLQ_SUFFIX, TopicSpec

from .infra import Infra


@dataclass
class Platform:
    infra: Infra
    mynumber_keys: str
    mynumber_hash_key: str

    @property
    def bootstrap(self) -> str:
        return self.infra.kafka_bootstrap

    def service_env(self, service: str) -> dict[str, str]:
        """Environment of a service process (its app role, owner role for migrations, keys)."""
        schema = BY_SERVICE[service]
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "DATABASE_URL": url_for_role(self.infra.admin_db_url, schema.app_role),
            "MIGRATION_DATABASE_URL": url_for_role(self.infra.admin_db_url, schema.owner_role),
            "MYNUMBER_KEYS": self.mynumber_keys,
            "MYNUMBER_ACTIVE_KEY_ID": "k1",
            "MYNUMBER_HASH_KEY": self.mynumber_hash_key,
            "OUTBOX_POLL_INTERVAL_S": "0.2",
            "TRANSIENT_RETRY_BUDGET_S": "10",
            "LOG_LEVEL": "WARNING",
        }

    def settings(self, service: str, **overrides: Any) -> ServiceSettings:
        env = {k.lower(): v for k, v in self.service_env(service).items()}
        return ServiceSettings(**{**env, **overrides})

    def vault(self) -> MyNumberVault:
        return MyNumberVault.from_config(self.mynumber_keys, "k1", self.mynumber_hash_key)

    def build(self, service: str, **overrides: Any) -> ServiceRuntime:
        runtime: ServiceRuntime = service_app(service).build(self.settings(service, **overrides))
        return runtime

    async def admin(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.infra.admin_db_url)

    @contextlib.asynccontextmanager
    async def probe_schema(self, schema: str, *statements: str) -> AsyncIterator[asyncpg.Connection]:
        """A schema for a probe service — inbox, outbox, dead letters, and ``statements`` — dropped afterwards; the
        admin connection it was made with."""
        conn = await self.admin()
        try:
            await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            await conn.execute(f"CREATE SCHEMA {schema}")
            for statement in [*outbox_ddl(schema), *statements]:
                await conn.execute(statement)
            yield conn
        finally:
            await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            await conn.close()

    async def connect_as(self, service: str) -> asyncpg.Connection:
        return await asyncpg.connect(self.settings(service).database_url.get_secret_value())

    @contextlib.asynccontextmanager
    async def producer(self) -> AsyncIterator[AIOKafkaProducer]:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, enable_idempotence=True, acks="all")
        await producer.start()
        try:
            yield producer
        finally:
            await producer.stop()

    async def publish(self, spec: TopicSpec, events: Sequence[Event], source: str = "/test/upstream") -> None:
        async with self.producer() as producer:
            await publish_events(producer, spec, events, source=source)

    async def _consumer(self) -> AIOKafkaConsumer:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await consumer.start()
        # aiokafka 0.14: a group-less consumer stopped before its internal reset task first ran
        # raises CancelledError from stop(); let that task start.
        await asyncio.sleep(0)
        return consumer

    async def end_offsets(self, topic: str) -> dict[int, int]:
        consumer = await self._consumer()
        try:
            partitions = [TopicPartition(topic, p) for p in range(partition_count(topic))]
            ends = await consumer.end_offsets(partitions)
            return {tp.partition: offset for tp, offset in ends.items()}
        finally:
            await consumer.stop()

    async def group_at_end(self, group: str, topic: str) -> None:
        """Commit ``group``'s offsets at ``topic``'s end: a service in that group reads only what comes after,
        not what earlier tests left (the topics are shared by the whole session)."""
        ends = await self.end_offsets(topic)
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=group, enable_auto_commit=False)
        await consumer.start()
        try:
            consumer.assign([TopicPartition(topic, p) for p in ends])
            await consumer.commit({TopicPartition(topic, p): o for p, o in ends.items()})
        finally:
            await consumer.stop()

    async def read_from(self, topic: str, start: dict[int, int], *, until: Any, timeout_s: float = 30.0) -> list[Any]:
        """Records of ``topic`` after ``start`` offsets, until ``until(records)`` holds or time runs out."""
        consumer = await self._consumer()
        records: list[Any] = []
        try:
            partitions = [TopicPartition(topic, p) for p in start]
            consumer.assign(partitions)
            for tp in partitions:
                consumer.seek(tp, start[tp.partition])
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout_s
            while loop.time() < deadline and not until(records):
                batch = await consumer.getmany(timeout_ms=200)
                for items in batch.values():
                    records.extend(items)
            return records
        finally:
            await consumer.stop()


async def outbox_events(platform: Platform, service: str, schema: str, topic: str, key: str) -> list[dict[str, Any]]:
    """Events a service has caused on ``topic`` for one key, in the order it wrote them (its outbox)."""
    conn = await platform.connect_as(service)
    try:
        rows = await conn.fetch(
            f"SELECT payload FROM {schema}.outbox WHERE topic = $1 AND message_key = $2 ORDER BY id", topic, key
        )
    finally:
        await conn.close()
    return [json.loads(bytes(r["payload"])) for r in rows]


async def consumed(platform: Platform, service: str, schema: str, event_ids: Sequence[uuid.UUID]) -> bool:
    """Whether the service has applied every one of these events (its inbox holds them)."""
    conn = await platform.connect_as(service)
    try:
        done = await conn.fetchval(
            f"SELECT count(*) FROM {schema}.inbox WHERE message_key = ANY($1::text[])", [str(i) for i in event_ids]
        )
    finally:
        await conn.close()
    return bool(done == len(event_ids))


def partition_count(topic: str) -> int:
    """From the registry (the source of truth for partitions), dead-letter topics included."""
    if topic.endswith(DLQ_SUFFIX):
        return DLQ_PARTITIONS
    return BY_NAME[topic].partitions


async def prepare_platform(infra: Infra) -> Platform:
    """Roles, schemas, migrations (as each owner role), and every registry topic."""
    keys = "k1:" + base64.b64encode(os.urandom(32)).decode()
    hash_key = base64.b64encode(os.urandom(32)).decode()
    await prepare(infra.admin_db_url, infra.kafka_bootstrap)
    return Platform(infra, keys, hash_key)


async def eventually(check: Any, *, timeout_s: float = 30.0, interval_s: float = 0.2) -> Any:
    """Poll an async ``check`` until it returns something truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    last: Any = None
    while loop.time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s}s (last value: {last!r})")


async def versions_of(platform: Platform, atena: str) -> int:
    """How many versions of a person residency_sync has stored (one per 異動 applied)."""
    conn = await platform.connect_as("residency_sync")
    try:
        count: int = await conn.fetchval("SELECT count(*) FROM residency.person_version WHERE atena_number = $1", atena)
        return count
    finally:
        await conn.close()


def unique_atena() -> str:
    """A 宛名番号 no other test uses (tests share one database and broker)."""
    return str(uuid.uuid4().int % 10**10).zfill(10)


def python() -> str:
    return sys.executable


async def consumed_everything(platform: Platform, runtime: ServiceRuntime) -> bool:
    """The service's group has committed every record of the topics it reads (earlier tests may have left
    some, e.g. results published while the service was not running): the original must be complete too."""
    admin = AIOKafkaAdminClient(bootstrap_servers=platform.bootstrap)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(runtime.settings.consumer_group or runtime.name)
    finally:
        await admin.close()
    for spec, _ in runtime.consumer.subscriptions:
        for partition, end in (await platform.end_offsets(spec.name)).items():
            mark = committed.get(TopicPartition(spec.name, partition))
            if end > 0 and (mark is None or mark.offset < end):
                return False
    return True
