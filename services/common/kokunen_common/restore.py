"""After a point-in-time restore of the database: rewind each service's consumer group to what its database holds
(ADR 0013, docs/runbook-restore.md).

A restored database is behind Kafka: the groups' committed offsets name records whose effects were committed after
the restore point and are gone with it. Started as they are, the services would skip those records for good.
Every record a service applied (or dead-lettered) is claimed in its inbox with its topic, partition and offset, in
the same transaction as its effects, and a partition's records are applied in order: the inbox's highest offset per
partition, plus one, is where the restored database stands. ``rewind_to_database`` commits exactly that for the
service's group — before the services start — so each re-reads what the restore took away; events its relay had
published after the restore point are derived again with the same ids (``kokunen_common.ids``) and every reader's
inbox, restored to the same point, dedupes them.

A partition the inbox never saw is read from its start. Records that retention deleted meanwhile cannot be read
again (the report says so): the restore point must lie within every topic's retention (30 days for the topics that
carry clear My Numbers, ADR 0012).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import OffsetAndMetadata

from .logs import get_logger
from .messaging import kafka_client_kwargs
from .service import ServiceRuntime
from .settings import ServiceSettings

log = get_logger(__name__)


class RewindRefused(RuntimeError):
    """The group cannot be rewound now (the message says why)."""


@dataclass(frozen=True)
class PartitionRewind:
    topic: str
    partition: int
    committed: int | None
    """The group's offset before the rewind (None: it had none)."""
    restored: int
    """Where the restored database stands: the next record to apply."""
    unreadable: int
    """Records between ``restored`` and the partition's start that retention deleted: they cannot be re-read."""

    @property
    def rewound(self) -> int:
        """Records the service reads again (negative: the group was behind its database, moved forward)."""
        return (self.committed or 0) - self.restored


async def _members(settings: ServiceSettings, group: str) -> int:
    admin = AIOKafkaAdminClient(**kafka_client_kwargs(settings))
    await admin.start()
    try:
        (described,) = await admin.describe_consumer_groups([group])
        return sum(len(g[5]) for g in described.groups)
    finally:
        await admin.close()


async def _partitions(settings: ServiceSettings, topics: list[str]) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(**kafka_client_kwargs(settings))
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    found = {t["topic"]: sorted(p["partition"] for p in t["partitions"]) for t in described if not t["error_code"]}
    missing = [t for t in topics if not found.get(t)]
    if missing:
        raise RewindRefused(f"not on the cluster: {', '.join(missing)} (is KAFKA_BOOTSTRAP_SERVERS right?)")
    return [TopicPartition(t, p) for t in topics for p in found[t]]


async def positions_in_database(conn: asyncpg.Connection, schema: str, topics: list[str]) -> dict[TopicPartition, int]:
    """Next offset to apply per partition, from the inbox (what the database has applied)."""
    rows = await conn.fetch(
        f'SELECT topic, partition, max("offset") + 1 AS next FROM {schema}.inbox WHERE topic = ANY($1::text[]) '
        "GROUP BY topic, partition",
        topics,
    )
    return {TopicPartition(r["topic"], r["partition"]): int(r["next"]) for r in rows}


async def rewind_to_database(
    runtime: ServiceRuntime, *, dry_run: bool = False, wait_s: float = 30.0
) -> list[PartitionRewind]:
    """Commit, for the service's consumer group, the offsets its database has applied through. Refused while a
    member of the group is running (its own commits would race ours): stop the service first. A member whose
    process was killed stays in the group until its session times out (10 s): waited for up to ``wait_s``."""
    settings = runtime.settings
    group = settings.consumer_group or runtime.name
    topics = [spec.name for spec, _ in runtime.consumer.subscriptions]
    conn = await asyncpg.connect(runtime.database_url)
    try:
        applied = await positions_in_database(conn, runtime.schema, topics)
    finally:
        await conn.close()

    members = await _members(settings, group)
    deadline = time.monotonic() + wait_s
    while members and time.monotonic() < deadline:  # a killed member stays until its session times out
        await asyncio.sleep(1.0)
        members = await _members(settings, group)
    if members:
        raise RewindRefused(f"consumer group {group!r} has {members} running member(s): stop {runtime.name} first")

    consumer = AIOKafkaConsumer(group_id=group, enable_auto_commit=False, **kafka_client_kwargs(settings))
    await consumer.start()
    await asyncio.sleep(0)  # aiokafka 0.14: let its internal task start before a possible stop()
    try:
        partitions = await _partitions(settings, topics)
        consumer.assign(partitions)
        starts = await consumer.beginning_offsets(partitions)
        rewinds: list[PartitionRewind] = []
        for tp in partitions:
            committed = await consumer.committed(tp)
            restored = max(applied.get(tp, 0), starts[tp])
            rewinds.append(
                PartitionRewind(tp.topic, tp.partition, committed, restored, max(0, starts[tp] - applied.get(tp, 0)))
            )
        if not dry_run:
            await consumer.commit(
                {tp: OffsetAndMetadata(r.restored, "") for tp, r in zip(partitions, rewinds, strict=True)}
            )
    finally:
        await consumer.stop()
    log.info(
        "consumer group rewound to the database" if not dry_run else "consumer group rewind (dry run)",
        service=runtime.name,
        group=group,
        records=sum(max(0, r.rewound) for r in rewinds),
        unreadable=sum(r.unreadable for r in rewinds),
    )
    return rewinds
