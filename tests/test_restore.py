"""The pieces of a restore (ADR 0013); the whole drill is ``make restore-drill`` (kokunen_testing/restore_drill.py).

- PostgreSQL's own tools: a cluster archiving its WAL (basic_archive), a verified base backup, a new cluster
  recovered to a point in time between two commits and promoted on a new timeline;
- a consumer group ahead of its database (as after a point-in-time restore) is rewound to what the inbox has
  applied, and the service then applies what the database lacked, once; refused while the group has a member.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import date
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from kokunen_common.restore import RewindRefused, positions_in_database, rewind_to_database
from kokunen_contracts.registry import RESIDENT_CHANGED
from kokunen_contracts.residency import ChangeReason
from kokunen_testing.factories import change, resident
from kokunen_testing.infra import load_localstack
from kokunen_testing.platform import Platform, eventually, unique_atena, versions_of

pytestmark = pytest.mark.integration


def test_a_new_cluster_is_recovered_to_a_point_in_time_from_a_base_backup_and_the_wal_archive(tmp_path: Path) -> None:
    localstack = load_localstack()
    archive = tmp_path / "wal-archive"
    primary = localstack.PostgresServer(tmp_path / "primary", archive_dir=archive, archive_timeout_s=1)
    primary.start()
    restored = None
    try:

        def sql(server: object, statement: str) -> str:
            result = server._psql(statement, "kokunen")  # type: ignore[attr-defined]
            assert result.returncode == 0, result.stderr
            return str(result.stdout.strip())

        sql(primary, "CREATE TABLE drill (n int); INSERT INTO drill VALUES (1)")
        localstack.base_backup(primary, tmp_path / "backups" / "base")  # verified by pg_verifybackup
        sql(primary, "INSERT INTO drill VALUES (2)")
        target = sql(primary, "SELECT clock_timestamp()")
        time.sleep(0.05)  # two commits must not share a timestamp
        sql(primary, "INSERT INTO drill VALUES (3)")
        sql(primary, "SELECT pg_switch_wal()")
        deadline = time.monotonic() + 60
        while localstack.archiver_status(primary)["last_archived_time"] <= target and time.monotonic() < deadline:
            time.sleep(0.2)
        status = localstack.archiver_status(primary)
        assert status["failed_count"] == "0"
        primary.stop()

        restored = localstack.restore_postgres(tmp_path / "backups" / "base", archive, tmp_path / "restored", target)
        assert sql(restored, "SELECT array_agg(n ORDER BY n) FROM drill") == "{1,2}"  # 3 came after the target
        # Promoted: it writes a new timeline.
        assert sql(restored, "SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)") == "00000002"
        sql(restored, "INSERT INTO drill VALUES (4)")  # and writable
    finally:
        for server in (restored, primary):
            if server is not None:
                server.stop()


async def test_a_group_ahead_of_its_database_is_rewound_and_the_service_applies_what_the_database_lacks(
    platform: Platform,
) -> None:
    group = f"residency_sync-drill-{uuid.uuid4().hex[:8]}"
    atena = unique_atena()
    moved = change(ChangeReason.MOVE_WITHIN_CITY, resident(atena), date(2026, 11, 2))
    before = await platform.end_offsets(RESIDENT_CHANGED.name)
    await platform.publish(RESIDENT_CHANGED, [moved])
    # As after a point-in-time restore: the group committed past the event, the database never applied it.
    ends = {
        TopicPartition(RESIDENT_CHANGED.name, p): o
        for p, o in (await platform.end_offsets(RESIDENT_CHANGED.name)).items()
    }
    (ours,) = (tp for tp, end in ends.items() if end > before[tp.partition])  # the partition our event went to
    # The topic is shared with earlier tests, one of which deletes records as retention would: where a partition
    # starts is read here, not assumed to be 0.
    starts = await _starts(platform, list(ends))
    await _commit(platform, group, ends)

    runtime = platform.build("residency_sync", consumer_group=group)
    planned = await rewind_to_database(runtime, dry_run=True)
    assert await _committed(platform, group) == ends  # a dry run commits nothing
    conn = await platform.connect_as("residency_sync")
    try:
        applied = await positions_in_database(conn, "residency", [RESIDENT_CHANGED.name])
    finally:
        await conn.close()
    rewinds = await rewind_to_database(runtime)
    assert rewinds == planned
    committed = await _committed(platform, group)
    for r in rewinds:
        tp = TopicPartition(r.topic, r.partition)
        # Where the database stands, or the partition's start when retention deleted what the inbox last saw.
        expected = max(applied.get(tp, 0), starts[tp])
        assert (r.committed, r.restored, r.unreadable) == (ends[tp], expected, expected - applied.get(tp, 0))
        assert committed[tp] == r.restored
    (rewound,) = (r for r in rewinds if TopicPartition(r.topic, r.partition) == ours)
    assert rewound.restored < ends[ours]  # the event the database lacks is read again
    assert rewound.rewound >= 1

    async with platform.build("residency_sync", consumer_group=group):
        await eventually(lambda: _has_members(platform, group), timeout_s=60)
        with pytest.raises(RewindRefused, match="running member"):
            await rewind_to_database(platform.build("residency_sync", consumer_group=group), wait_s=0)
        await eventually(lambda: versions_of(platform, atena), timeout_s=60)
        await eventually(lambda: _caught_up(platform, group, ends), timeout_s=60)
    assert await versions_of(platform, atena) == 1  # applied once


async def _commit(platform: Platform, group: str, offsets: dict[TopicPartition, int]) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=platform.bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    await asyncio.sleep(0)
    try:
        consumer.assign(list(offsets))
        await consumer.commit(offsets)
    finally:
        await consumer.stop()


async def _starts(platform: Platform, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=platform.bootstrap, enable_auto_commit=False)
    await consumer.start()
    await asyncio.sleep(0)
    try:
        return dict(await consumer.beginning_offsets(partitions))
    finally:
        await consumer.stop()


async def _committed(platform: Platform, group: str) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=platform.bootstrap)
    await admin.start()
    try:
        return {tp: meta.offset for tp, meta in (await admin.list_consumer_group_offsets(group)).items()}
    finally:
        await admin.close()


async def _has_members(platform: Platform, group: str) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=platform.bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_consumer_groups([group])
        return any(g[5] for g in described.groups)
    finally:
        await admin.close()


async def _caught_up(platform: Platform, group: str, ends: dict[TopicPartition, int]) -> bool:
    committed = await _committed(platform, group)
    return all(committed.get(tp, -1) >= end for tp, end in ends.items())
