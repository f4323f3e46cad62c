"""A broker can die (issue 13 item 5): on a three-node KRaft cluster (``localstack.py up --brokers 3``: replication
factor 3, ``min.insync.replicas=2``), the broker leading the upstream topic's partitions is killed (SIGKILL)
in the middle of a stream of resident changes; residency_sync, running as its own process, applies every change
exactly once and publishes every person event. Needs a local broker (the cluster is started by localstack)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from kokunen_common.messaging import ensure_topics, publish_events
from kokunen_common.settings import ServiceSettings
from kokunen_contracts.envelope import header_map
from kokunen_contracts.registry import PERSON_CHANGED, RESIDENT_CHANGED, TOPICS
from kokunen_contracts.residency import ChangeReason
from kokunen_testing.factories import change, resident
from kokunen_testing.infra import load_localstack
from kokunen_testing.platform import Platform, eventually, unique_atena

pytestmark = pytest.mark.integration

PEOPLE = 150  # two changes each: 300 events


@pytest.fixture(scope="module")
def cluster(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if platform.infra.source != "local":
        pytest.skip(f"Kafka comes from {platform.infra.source}: the cluster is started by localstack")
    localstack = load_localstack()
    started = localstack.KafkaCluster(Path(tmp_path_factory.mktemp("kafka-cluster")), 3).start()
    try:
        yield started
    finally:
        started.stop()


async def test_killing_the_partition_leader_mid_stream_loses_and_doubles_nothing(
    platform: Platform, cluster: Any
) -> None:
    settings = ServiceSettings(kafka_bootstrap_servers=cluster.bootstrap)
    await ensure_topics(settings, TOPICS)  # no factor given: the cluster's own (3), as `kokunen-admin prepare` does
    leaders = await _leaders(cluster.bootstrap, RESIDENT_CHANGED.name)
    assert await _replicas(cluster.bootstrap, RESIDENT_CHANGED.name) == {3}
    assert await _broker_setting(cluster.bootstrap, "min.insync.replicas") == "2"
    await _drain_residency_outbox(platform)  # rows other tests left must not go to this cluster

    atenas = [unique_atena() for _ in range(PEOPLE)]
    moves = [change(ChangeReason.MOVE_WITHIN_CITY, resident(a), date(2026, 11, 2)) for a in atenas]
    renames = [change(ChangeReason.NAME_CHANGE, resident(a), date(2026, 11, 3)) for a in atenas]
    stream = [e for pair in zip(moves, renames, strict=True) for e in pair]  # each person's two in order
    victim = Counter(leaders.values()).most_common(1)[0][0]

    service = _run_residency(platform, cluster.bootstrap)
    try:
        producer = AIOKafkaProducer(
            bootstrap_servers=cluster.bootstrap, enable_idempotence=True, acks="all", request_timeout_ms=30_000
        )
        await producer.start()
        try:
            half = len(stream) // 2
            for i in range(0, half, 10):
                await publish_events(producer, RESIDENT_CHANGED, stream[i : i + 10], source="/test/upstream")
            await eventually(lambda: _versions(platform, atenas, at_least=20), timeout_s=120)
            os.kill(cluster.node(victim).pid, signal.SIGKILL)  # the leader of most partitions, mid-stream
            for i in range(half, len(stream), 10):
                await publish_events(producer, RESIDENT_CHANGED, stream[i : i + 10], source="/test/upstream")
        finally:
            await producer.stop()
        await eventually(lambda: _versions(platform, atenas, at_least=len(stream)), timeout_s=240, interval_s=1.0)
        await eventually(lambda: _drained(platform), timeout_s=120, interval_s=1.0)
        assert service.poll() is None, "residency_sync died with the broker"
    finally:
        service.terminate()
        await asyncio.to_thread(service.wait, 30)

    conn = await platform.connect_as("residency_sync")
    try:
        per_person = await conn.fetch(
            "SELECT atena_number, count(*) AS n FROM residency.person_version WHERE atena_number = ANY($1::text[]) "
            "GROUP BY atena_number",
            atenas,
        )
    finally:
        await conn.close()
    assert len(per_person) == PEOPLE  # nothing lost ...
    assert {r["n"] for r in per_person} == {2}  # ... nothing doubled
    published = await _person_events(cluster.bootstrap, set(atenas))
    assert len(set(published)) == len(stream)  # every person event reached the cluster
    print(
        f"\nfailover: killed node {victim} mid-stream; {len(stream)} changes applied once each; "
        f"{len(published)} person events on the topic for {len(set(published))} ids"
    )


def _run_residency(platform: Platform, bootstrap: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, **platform.service_env("residency_sync"), "KAFKA_BOOTSTRAP_SERVERS": bootstrap}
    return subprocess.Popen([sys.executable, "-m", "residency_sync", "run"], env=env)


async def _partitions(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return [p for t in described for p in t["partitions"]]


async def _leaders(bootstrap: str, topic: str) -> dict[int, int]:
    return {p["partition"]: p["leader"] for p in await _partitions(bootstrap, topic)}


async def _replicas(bootstrap: str, topic: str) -> set[int]:
    return {len(p["replicas"]) for p in await _partitions(bootstrap, topic)}


async def _broker_setting(bootstrap: str, name: str) -> str:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.BROKER, "1")])
    finally:
        await admin.close()
    return next(str(e[1]) for r in responses for res in r.resources for e in res[4] if e[0] == name)


async def _versions(platform: Platform, atenas: list[str], *, at_least: int) -> bool:
    conn = await platform.connect_as("residency_sync")
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM residency.person_version WHERE atena_number = ANY($1::text[])", atenas
        )
    finally:
        await conn.close()
    return count >= at_least


async def _drained(platform: Platform) -> bool:
    conn = await platform.connect_as("residency_sync")
    try:
        return not await conn.fetchval("SELECT count(*) FROM residency.outbox WHERE published_at IS NULL")
    finally:
        await conn.close()


async def _drain_residency_outbox(platform: Platform) -> None:
    if await _drained(platform):
        return
    relay_only = platform.build("residency_sync")
    await relay_only.start(consumers=False)  # the session's broker: its relay publishes them where they belong
    try:
        await eventually(lambda: _drained(platform), timeout_s=60)
    finally:
        await relay_only.stop()


async def _person_events(bootstrap: str, atenas: set[str]) -> list[str]:
    """Event ids of the person events of ``atenas`` on the cluster (repeats included)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        partitions = [TopicPartition(PERSON_CHANGED.name, p) for p in range(PERSON_CHANGED.partitions)]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            consumer.seek(tp, 0)
        ids: list[str] = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                ids += [
                    header_map(r.headers)["ce_id"] for r in records if r.key is not None and r.key.decode() in atenas
                ]
        return ids
    finally:
        await consumer.stop()
