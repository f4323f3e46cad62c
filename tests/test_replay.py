"""Replay: each service rebuilds its slice from the retained topics, and the rebuilt slice equals the
original — ids included, since every id is derived from the event that caused it.

Runs after the other integration tests of the session (file order), so the slices hold their data:
moves, deaths, cancellations, late facts, filings and calendar facts.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from kokunen_common.replay import ReplayRefused, replay
from kokunen_testing.platform import Platform, consumed_everything, eventually
from kokunen_testing.snapshots import SNAPSHOTS
from transfer_dispatch.domain.policy import load_policies
from transfer_dispatch.handlers import processing_month, run_monthly_nhi_transfer

pytestmark = pytest.mark.integration


async def snapshot(platform: Platform, service: str) -> list[list[tuple[object, ...]]]:
    conn = await platform.connect_as(service)
    try:
        return [[tuple(r) for r in await conn.fetch(query)] for query in SNAPSHOTS[service]]
    finally:
        await conn.close()


async def drained(platform: Platform, service: str, schema: str) -> bool:
    """Replay refuses while events wait in the outbox: let the relay finish first."""
    conn = await platform.connect_as(service)
    try:
        return not await conn.fetchval(f"SELECT count(*) FROM {schema}.outbox WHERE published_at IS NULL")
    finally:
        await conn.close()


@pytest.mark.parametrize(("service", "schema"), [("residency_sync", "residency"), ("eligibility", "eligibility")])
async def test_a_replayed_slice_equals_the_original(platform: Platform, service: str, schema: str) -> None:
    # Let the service read what is left on its topics and its relay publish what is left in its outbox.
    async with platform.build(service) as runtime:
        await eventually(lambda: consumed_everything(platform, runtime), timeout_s=90)
        await eventually(lambda: drained(platform, service, schema), timeout_s=60)
    before = await snapshot(platform, service)
    assert before[0], f"{service} has nothing to replay: run with the other integration tests"

    settings = platform.settings(service)
    assert settings.migration_database_url is not None
    report = await replay(platform.build(service), settings.migration_database_url.get_secret_value())

    assert report.records > 0
    after = await snapshot(platform, service)
    for query, old, new in zip(SNAPSHOTS[service], before, after, strict=True):
        assert new == old, f"rebuilt slice differs for: {query.split('FROM')[1].split()[0]}"


async def test_a_replayed_dispatch_slice_keeps_each_persons_order_and_a_rerun_of_the_month_sends_nothing(
    platform: Platform,
) -> None:
    month = processing_month(datetime.now(UTC))
    async with platform.build("transfer_dispatch") as runtime:
        await eventually(lambda: consumed_everything(platform, runtime), timeout_s=90)
        conn = await platform.connect_as("transfer_dispatch")
        try:
            await run_monthly_nhi_transfer(conn, load_policies(), month)  # what is left of the month goes now
        finally:
            await conn.close()
        await eventually(lambda: drained(platform, "transfer_dispatch", "dispatch"), timeout_s=60)
    before = await snapshot(platform, "transfer_dispatch")
    assert before[0], "transfer_dispatch has nothing to replay: run with the other integration tests"

    settings = platform.settings("transfer_dispatch")
    assert settings.migration_database_url is not None
    await replay(platform.build("transfer_dispatch"), settings.migration_database_url.get_secret_value())

    assert await snapshot(platform, "transfer_dispatch") == before
    conn = await platform.connect_as("transfer_dispatch")
    try:
        again = await run_monthly_nhi_transfer(conn, load_policies(), month)
    finally:
        await conn.close()
    assert (again.batch_id, again.record_count) == (None, 0)  # what each batch took is kept on replay


async def test_replay_refuses_while_events_wait_to_be_published(platform: Platform) -> None:
    admin = await platform.admin()
    try:
        await admin.execute(
            """INSERT INTO dispatch.outbox (event_id, topic, message_key, payload, headers)
               VALUES (gen_random_uuid(), 'transfer.nhi-qualification-changes.v1', 'x', '\\x7b7d', '[]')"""
        )
        settings = platform.settings("transfer_dispatch")
        assert settings.migration_database_url is not None
        with pytest.raises(ReplayRefused, match="not published yet"):
            await replay(platform.build("transfer_dispatch"), settings.migration_database_url.get_secret_value())
    finally:
        await admin.execute("DELETE FROM dispatch.outbox WHERE message_key = 'x' AND published_at IS NULL")
        await admin.close()
