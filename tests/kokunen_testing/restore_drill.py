"""Restore drill (issue 13 item 6, ADR 0013, docs/runbook-restore.md): load, back up, keep writing, lose the
primary, restore a new cluster to a point in time, rewind the consumer groups to what it holds, restart the services
on it — they end equal to the run that was never restored.

1. A durable PostgreSQL cluster archiving its WAL (``basic_archive``, ``archive_timeout`` 10 s) and every stream
   service (kokunen_testing.chaos's input and supervised processes, no faults).
2. The first third of the input, settled; a base backup (pg_basebackup, verified by pg_verifybackup).
3. The rest of the input, and while the services work through it the restore point is taken: the database's clock.
4. Settled: the reference — each slice (kokunen_testing.snapshots), every inbox and outbox — and the input's
   reconciliation. Then the disaster: every service and the primary killed (SIGKILL), its data never used again.
5. A new cluster from the base backup and the archive, recovered to the restore point and promoted; each service's
   group rewound to its inbox (``kokunen-admin rewind-to-database``); the services started on it.
6. Settled again: every slice, inbox and outbox equal to the reference; nothing lost, nothing doubled, lag 0.

Figures: RPO of the database alone (how old the newest archived WAL was when the primary died: what losing its disk
loses before the services re-read Kafka), what the restore point took away and the services re-read, and the RTO
(disaster → services caught up: restore, rewind, catch-up).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kokunen_common.restore import rewind_to_database
from kokunen_contracts.registry import RESIDENT_CHANGED

from .chaos import SCHEMAS, SERVICES, Chaos, ChaosPlan
from .infra import Infra, load_localstack
from .platform import Platform, eventually, prepare_platform
from .snapshots import SNAPSHOTS

ARCHIVE_TIMEOUT_S = 10


@dataclass
class DrillReport:
    people: int
    events: int = 0
    backup_s: float = 0.0
    restore_point: str = ""
    archive_rpo_s: float = 0.0
    """At the disaster, the age of the newest archived WAL segment: commits younger than that lived only on the
    primary's disk (bounded by archive_timeout)."""
    behind_s: float = 0.0
    """Restore point → newest commit on the old primary: what the point-in-time restore took away."""
    rows_taken_away: int = 0
    """Rows of the reference (slices, inboxes, outboxes) not in the restored database before the services ran."""
    rewound: dict[str, int] = field(default_factory=dict)
    """Records each service re-read after its group was rewound (without the rewind: skipped for good)."""
    restore_s: float = 0.0
    rewind_s: float = 0.0
    catch_up_s: float = 0.0
    settled: bool = False
    differences: list[str] = field(default_factory=list)
    lost: int = -1
    doubled: int = -1
    lag: int = -1
    seconds: float = 0.0

    @property
    def rto_s(self) -> float:
        return self.restore_s + self.rewind_s + self.catch_up_s

    @property
    def ok(self) -> bool:
        return (
            self.settled
            and not self.differences
            and (self.lost, self.doubled, self.lag) == (0, 0, 0)
            and self.rows_taken_away > 0  # else the restore point took nothing away and the drill proved nothing
            and sum(self.rewound.values()) > 0
        )

    def summary(self) -> str:
        rewound = ", ".join(f"{s} {n}" for s, n in self.rewound.items())
        return "\n".join(
            [
                f"restore drill: {self.events} events ({self.people} people); base backup {self.backup_s:.1f} s",
                f"  RPO, database alone: {self.archive_rpo_s:.1f} s (newest archived WAL at the disaster; "
                f"archive_timeout {ARCHIVE_TIMEOUT_S} s)",
                f"  restore point {self.restore_point}: {self.behind_s:.1f} s of commits before the disaster "
                f"taken away ({self.rows_taken_away} rows); re-read from Kafka after the rewind: {rewound}",
                f"  RPO after the services re-read Kafka: lost {self.lost}, doubled {self.doubled}, lag {self.lag}; "
                f"equal to the run never restored: {not self.differences}",
                f"  RTO {self.rto_s:.1f} s = restore {self.restore_s:.1f} s + rewind {self.rewind_s:.1f} s + "
                f"services caught up {self.catch_up_s:.1f} s (drill {self.seconds:.0f} s)",
                *[f"  differs: {d}" for d in self.differences],
            ]
        )


def _queries() -> dict[str, list[str]]:
    """The slices, and every inbox and outbox (ids, not times: a re-derived event has the same id)."""
    return {
        service: [
            *SNAPSHOTS.get(service, []),
            f"SELECT message_key, topic FROM {schema}.inbox ORDER BY message_key",
            f"SELECT event_id, topic, message_key, published_at IS NOT NULL FROM {schema}.outbox ORDER BY event_id",
        ]
        for service, schema in SCHEMAS.items()
    }


async def snapshot(platform: Platform) -> dict[str, list[tuple[Any, ...]]]:
    taken: dict[str, list[tuple[Any, ...]]] = {}
    conn = await platform.admin()
    try:
        for service, queries in _queries().items():
            for number, query in enumerate(queries, 1):
                table = query.split("FROM")[1].split()[0]
                taken[f"{service} #{number} {table}"] = [
                    tuple(tuple(v) if isinstance(v, list) else v for v in r) for r in await conn.fetch(query)
                ]
    finally:
        await conn.close()
    return taken


async def _newest_commit(platform: Platform) -> datetime:
    conn = await platform.admin()
    try:
        inboxes = " UNION ALL ".join(f"SELECT max(received_at) AS t FROM {s}.inbox" for s in SCHEMAS.values())
        newest: datetime = await conn.fetchval(f"SELECT max(t) FROM ({inboxes}) x")
        return newest
    finally:
        await conn.close()


async def run_drill(
    kafka_bootstrap: str, workdir: Path, people: int, say: Callable[[str], None] = print, timeout_s: float = 1_800
) -> DrillReport:
    localstack = load_localstack()
    started = time.monotonic()
    deadline = started + timeout_s
    report = DrillReport(people=people)
    archive = workdir / "wal-archive"
    backup = workdir / "backups" / "base"
    primary = localstack.PostgresServer(workdir / "primary", archive_dir=archive, archive_timeout_s=ARCHIVE_TIMEOUT_S)
    primary.start()
    restored: Any = None
    try:
        platform = await prepare_platform(Infra(kafka_bootstrap, primary.url, "local"))
        chain = Chaos(
            platform,
            ChaosPlan(
                people=people, kills_per_service=0, broker_restarts=0, database_outages=0, chunk=200, backlog=600
            ),
            workdir / "logs",
            say=say,
        )
        stream = chain.input.stream
        report.events = len(stream)
        third = len(stream) // 3
        await chain.start()
        try:
            await chain.publish(stream[:third])
            if not await chain.settle(deadline, complete=False):
                raise RuntimeError("the first third did not settle")
            report.backup_s = await asyncio.to_thread(localstack.base_backup, primary, backup)
            say(f"drill: base backup in {report.backup_s} s; writing on")

            # Keep writing; the restore point falls while the services work through the second third.
            second = sum(1 for spec, _ in stream[third : 2 * third] if spec is RESIDENT_CHANGED)
            halfway = chain.progress["residency_sync"] + second // 2
            writer = asyncio.create_task(chain.publish(stream[third:]))
            await chain._until_applied(halfway)
            report.restore_point = await _clock(platform)
            say(f"drill: restore point {report.restore_point} (residency at {chain.progress['residency_sync']})")
            await writer
            report.settled = await chain.settle(deadline)
            reference = await snapshot(platform)
            expected = await chain.reconcile()
            if expected.lost or expected.doubled:
                raise RuntimeError(f"the run before the disaster is already wrong:\n{expected.summary()}")

            # The restore point's WAL must be archived before the disaster (archive_timeout sees to it).
            async def archived_past_the_restore_point() -> bool:
                status = await asyncio.to_thread(localstack.archiver_status, primary)
                return _at(status["last_archived_time"]) > _at(report.restore_point)

            await eventually(archived_past_the_restore_point, timeout_s=120, interval_s=0.5)
            newest = await _newest_commit(platform)
            archived = localstack.archiver_status(primary)

            # The disaster: every service and the primary die; the primary's disk is never used again.
            await chain.stop(kill=True)
            disaster = time.monotonic()
            disaster_at = _at(await _clock(platform))
            pid = primary.pid
            if pid is not None:
                os.kill(pid, signal.SIGKILL)
            report.archive_rpo_s = (disaster_at - _at(archived["last_archived_time"])).total_seconds()
            report.behind_s = (newest - _at(report.restore_point)).total_seconds()
            say(f"drill: disaster; newest archived WAL {report.archive_rpo_s:.1f} s old")

            restored = await asyncio.to_thread(
                localstack.restore_postgres, backup, archive, workdir / "restored", report.restore_point
            )
            report.restore_s = time.monotonic() - disaster
            again = Platform(
                Infra(kafka_bootstrap, restored.url, "local"), platform.mynumber_keys, platform.mynumber_hash_key
            )
            before = await snapshot(again)
            report.rows_taken_away = sum(len(set(reference[k]) - set(before[k])) for k in reference)

            step = time.monotonic()
            for service in SERVICES:
                rewinds = await rewind_to_database(again.build(service))
                report.rewound[service] = sum(max(0, r.rewound) for r in rewinds)
            report.rewind_s = time.monotonic() - step

            step = time.monotonic()
            chain.repoint(again)
            await chain.start()
            report.settled = await chain.settle(deadline)
            report.catch_up_s = time.monotonic() - step
            after = await snapshot(again)
            report.differences = [
                f"{name}: {len(set(reference[name]) - set(after[name]))} rows missing, "
                f"{len(set(after[name]) - set(reference[name]))} rows more"
                for name in reference
                if after[name] != reference[name]
            ]
            reconciled = await chain.reconcile()
            report.lost, report.doubled, report.lag = reconciled.lost, reconciled.doubled, reconciled.lag
        finally:
            await chain.stop()
    finally:
        for server in (restored, primary):
            if server is not None:
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(server.stop)
    report.seconds = time.monotonic() - started
    return report


def _at(text: str) -> datetime:
    """A PostgreSQL timestamptz as text (``2026-12-05 13:00:35.757232+00``); the epoch when empty."""
    return datetime.fromisoformat(text) if text else datetime.fromtimestamp(0, UTC)


async def _clock(platform: Platform) -> str:
    conn = await platform.admin()
    try:
        now: str = await conn.fetchval("SELECT clock_timestamp()::text")
        return now
    finally:
        await conn.close()
