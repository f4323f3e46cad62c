"""Replay: each service rebuilds its slice from the retained topics, and the rebuilt slice equals the
original — ids included, since every id is derived from the event that caused it.

Runs after the other integration tests of the session (file order), so the slices hold their data:
moves, deaths, cancellations, late facts, filings and calendar facts.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from kokunen_common.replay import ReplayRefused, replay
from kokunen_contracts.registry import CALENDAR_FACT, EXEMPTION_CONTINUATION_RUN
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


# What eligibility publishes from its own commands, not from a message it consumed: the calendar's facts and a
# continuation run's record (ADR 0050) are not written again by a replay, which reads them back from their topics.
PUBLISHED_BY_COMMANDS = {"eligibility": (CALENDAR_FACT.name, EXEMPTION_CONTINUATION_RUN.name)}


async def caused_events(platform: Platform, service: str, schema: str) -> list[tuple[object, ...]]:
    """The events in the outbox that consumed messages caused, by topic and key (ids only: ``recorded_at`` in a
    payload is when it was written); a dead letter without its envelope's id, which is drawn for each rejection."""
    conn = await platform.connect_as(service)
    try:
        rows = await conn.fetch(
            f"""SELECT topic, message_key, CASE WHEN topic NOT LIKE '%.dlq' THEN event_id END FROM {schema}.outbox
                WHERE NOT topic = ANY($1::text[]) ORDER BY 1, 2, 3""",
            list(PUBLISHED_BY_COMMANDS.get(service, ())),
        )
    finally:
        await conn.close()
    return [tuple(r) for r in rows]


@pytest.mark.parametrize(("service", "schema"), [("residency_sync", "residency"), ("eligibility", "eligibility")])
async def test_a_replayed_slice_equals_the_original(platform: Platform, service: str, schema: str) -> None:
    """The replay applies runs of records through the same batch handlers as the stream path (eligibility: set-based,
    one span per run, the next run decoded ahead): the slice it leaves is the one the stream left, and eligibility's
    outbox holds the same events (each id derived from its cause) — here beside the whole suite's history."""
    # Let the service read what is left on its topics and its relay publish what is left in its outbox.
    async with platform.build(service) as runtime:
        await eventually(lambda: consumed_everything(platform, runtime), timeout_s=90)
        await eventually(lambda: drained(platform, service, schema), timeout_s=60)
    before = await snapshot(platform, service)
    assert before[0], f"{service} has nothing to replay: run with the other integration tests"
    events_before = await caused_events(platform, service, schema)

    settings = platform.settings(service)
    assert settings.migration_database_url is not None
    report = await replay(platform.build(service), settings.migration_database_url.get_secret_value())

    assert report.records > 0
    after = await snapshot(platform, service)
    for query, old, new in zip(SNAPSHOTS[service], before, after, strict=True):
        assert new == old, f"rebuilt slice differs for: {query.split('FROM')[1].split()[0]}"
    if service == "eligibility":
        events_after = await caused_events(platform, service, schema)
        assert events_after, "the replay wrote no events to the outbox"
        assert events_after == events_before
        assert await drained(platform, service, schema)  # none of them is published again


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
