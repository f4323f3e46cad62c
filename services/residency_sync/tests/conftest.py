"""Fixtures of residency_sync's integration tests: the service running on the real broker and database,
and small readers of what it stored and announced."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from kokunen_contracts.registry import RESIDENT_CHANGED
from kokunen_contracts.residency import ResidentChanged
from kokunen_testing.platform import Platform, eventually, outbox_events


@pytest.fixture(scope="module")
async def residency(platform: Platform) -> AsyncIterator[Platform]:
    """residency_sync consuming ``residency.resident-changed.v1`` (consumers and outbox relay running)."""
    async with platform.build("residency_sync"):
        yield platform


async def applied(platform: Platform, event_ids: Sequence[uuid.UUID]) -> bool:
    conn = await platform.connect_as("residency_sync")
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM residency.inbox WHERE message_key = ANY($1::text[])", [str(e) for e in event_ids]
        )
        return count == len(set(event_ids))
    finally:
        await conn.close()


async def publish_in_rounds(platform: Platform, streams: Sequence[Sequence[ResidentChanged]]) -> None:
    """Every stream's next change at once, one round at a time (so that a stream's order is the order of
    arrival whatever the partitions)."""
    for step in range(max((len(s) for s in streams), default=0)):
        round_ = [s[step] for s in streams if len(s) > step]
        await platform.publish(RESIDENT_CHANGED, round_, source="/test/jumin-kiroku")
        await eventually(lambda r=round_: applied(platform, [e.event_id for e in r]))


async def announced(platform: Platform, atena: str) -> list[dict[str, Any]]:
    """The person changes residency_sync wrote for one person, in order."""
    return await outbox_events(platform, "residency_sync", "residency", "residency.person-changed.v1", atena)


async def versions(platform: Platform, atena: str) -> list[dict[str, Any]]:
    conn = await platform.connect_as("residency_sync")
    try:
        rows = await conn.fetch(
            "SELECT * FROM residency.person_version WHERE atena_number = $1 ORDER BY version_id", atena
        )
        return [dict(r) for r in rows]
    finally:
        await conn.close()


async def current(platform: Platform, atena: str) -> dict[str, Any] | None:
    conn = await platform.connect_as("residency_sync")
    try:
        row = await conn.fetchrow(
            """SELECT v.*, p.latest_effective_date, p.my_number_hash AS person_hash FROM residency.person p
               JOIN residency.person_version v ON v.version_id = p.current_version_id WHERE p.atena_number = $1""",
            atena,
        )
        return None if row is None else dict(row)
    finally:
        await conn.close()
