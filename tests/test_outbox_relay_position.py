"""The outbox relay reads from its position (issue 12, ADR 0008): it must return exactly what a scan of every pending
row (``WHERE published_at IS NULL ORDER BY id LIMIT n``) would, whatever order the writers' transactions commit in —
a row whose id was drawn before rows the relay already published, a row that commits after the relay read past its
id, a rolled-back one, a row set pending again by hand, a relay that starts leading again — so that each row is
published once; and it must not visit the rows published before."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import asyncpg
import pytest
from asyncpg.transaction import Transaction
from kokunen_common.outbox import OutboxRelay, outbox_ddl
from kokunen_testing.platform import Platform

pytestmark = pytest.mark.integration


@pytest.fixture
async def probe(platform: Platform) -> AsyncIterator[tuple[asyncpg.Connection, OutboxRelay]]:
    """A schema with an outbox of its own and a relay over it (no broker: the test marks what the relay read); the
    relay's connection, prepared as a leader's."""
    schema = f"relay_position_{uuid.uuid4().hex[:6]}"
    admin = await platform.admin()
    await admin.execute(f"CREATE SCHEMA {schema}")
    for statement in outbox_ddl(schema):
        await admin.execute(statement)
    relay = OutboxRelay(service=schema, schema=schema, database_url="", producer=None, batch_size=3)  # type: ignore[arg-type]
    conn = await platform.admin()
    await relay.prepare(conn)
    try:
        yield conn, relay
    finally:
        await conn.close()
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()


def _insert(schema: str) -> str:
    return f"""INSERT INTO {schema}.outbox (id, event_id, topic, message_key, payload, headers)
               VALUES (coalesce($1, nextval('{schema}.outbox_id_seq')), gen_random_uuid(), 'probe.v1', $2, '\\x00',
                       '[]')"""


async def test_the_relay_reads_what_a_full_scan_would_whatever_order_writers_commit_in(
    platform: Platform, probe: tuple[asyncpg.Connection, OutboxRelay]
) -> None:
    reader, relay = probe
    schema = relay.schema
    rng = random.Random(20261205)
    writers = [await platform.admin() for _ in range(4)]
    open_txs: dict[int, tuple[Transaction, list[str], int | None]] = {}
    """writer → its open transaction, the keys it wrote, an id it drew before writing (None: drawn when it writes)."""
    expected: Counter[str] = Counter()  # committed keys, once more for each time one is set pending again
    read: Counter[str] = Counter()
    try:
        for step in range(400):
            action, w = rng.random(), rng.randrange(len(writers))
            if action < 0.4:  # write in w's transaction (opening one, which may first draw an id for later)
                if w not in open_txs:
                    tx = writers[w].transaction()
                    await tx.start()
                    drawn = None
                    if rng.random() < 0.3:
                        drawn = await writers[w].fetchval(f"SELECT nextval('{schema}.outbox_id_seq')")
                    open_txs[w] = (tx, [], drawn)
                tx, keys, drawn = open_txs[w]
                await writers[w].execute(_insert(schema), drawn, f"k{step}")
                keys.append(f"k{step}")
                open_txs[w] = (tx, keys, None)
            elif action < 0.65:  # w's transaction ends: committed, or one in five rolled back
                if w in open_txs:
                    tx, keys, _ = open_txs.pop(w)
                    if rng.random() < 0.2:
                        await tx.rollback()
                    else:
                        await tx.commit()
                        expected.update(keys)
            elif action < 0.68:  # an operator sets a published row pending again
                key = await reader.fetchval(
                    f"SELECT message_key FROM {schema}.outbox WHERE published_at IS NOT NULL ORDER BY random() LIMIT 1"
                )
                if key is not None:
                    await reader.execute(f"UPDATE {schema}.outbox SET published_at = NULL WHERE message_key = $1", key)
                    expected[key] += 1
            elif action < 0.7:  # another instance starts leading
                await relay.prepare(reader)
            else:
                await _cycle(reader, relay, read)
        for tx, keys, _ in open_txs.values():
            await tx.commit()
            expected.update(keys)
        while await _cycle(reader, relay, read):
            pass
    finally:
        for conn in writers:
            await conn.close()
    assert read == expected  # each committed row once (and again only when set pending again), nothing rolled back
    assert not await reader.fetchval(f"SELECT count(*) FROM {schema}.outbox WHERE published_at IS NULL")


async def _cycle(reader: asyncpg.Connection, relay: OutboxRelay, read: Counter[str]) -> int:
    """One relay cycle, checked against a scan of every pending row (nothing commits in between)."""
    pending = await relay.read_pending(reader)
    rows = pending.rows
    scanned = await reader.fetch(
        f"SELECT id FROM {relay.schema}.outbox WHERE published_at IS NULL ORDER BY id LIMIT $1", relay.batch_size
    )
    assert [row["id"] for row in rows] == [row["id"] for row in scanned]
    await relay.mark_published(reader, [row["id"] for row in rows])
    relay.read_past(pending)
    read.update(row["message_key"] for row in rows)
    return len(rows)


async def test_the_relay_marks_rows_in_place_and_does_not_visit_those_it_published(
    probe: tuple[asyncpg.Connection, OutboxRelay],
) -> None:
    """Marking a row published is a HOT update (no index entry added, no page of another row touched); after its
    first read a relay's read touches a few index and heap pages however many rows were published before — even
    with statistics taken while many rows were pending and vacuums having let later rows fill freed space (which
    made a default session scan every page, every cycle: issue 12)."""
    reader, relay = probe
    schema = relay.schema
    relay.batch_size = 2000
    add = f"""INSERT INTO {schema}.outbox (event_id, topic, message_key, payload, headers)
              SELECT gen_random_uuid(), 'probe.v1', n::text, convert_to(repeat('x', 1000), 'UTF8'), '[]'
              FROM generate_series(1, $1) AS n"""
    await reader.execute(f"ALTER TABLE {schema}.outbox SET (autovacuum_enabled = off)")

    async def updates() -> tuple[int, int]:
        await reader.execute("SELECT pg_stat_force_next_flush()")
        await reader.execute("SELECT pg_stat_clear_snapshot()")
        row = await reader.fetchrow(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relid = $1::regclass", f"{schema}.outbox"
        )
        return int(row["n_tup_upd"]), int(row["n_tup_hot_upd"])

    before = await updates()
    for _ in range(10):
        await reader.execute(add, 600)
        while await _cycle(reader, relay, Counter()):
            pass
        await reader.execute(f"VACUUM {schema}.outbox")
    await reader.execute(add, 1500)
    await reader.execute(f"ANALYZE {schema}.outbox")  # 1,500 pending, as the statistics will keep saying
    while await _cycle(reader, relay, Counter()):
        pass
    after = await updates()
    heap_pages = await reader.fetchval(f"SELECT pg_relation_size('{schema}.outbox') / 8192")
    await relay.prepare(reader)  # a new leader: its first read walks the outbox once
    await _cycle(reader, relay, Counter())
    plan = json.loads(
        await reader.fetchval(
            f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {relay.pending_query}", *relay.position, relay.batch_size
        )
    )[0]["Plan"]
    touched = plan["Shared Hit Blocks"] + plan["Shared Read Blocks"]
    assert after[0] - before[0] == 7_500
    assert after[1] - before[1] == after[0] - before[0]  # every one HOT
    assert touched < 20, (touched, heap_pages)


async def test_the_relay_deletes_rows_published_longer_ago_than_their_retention_by_the_clock(
    probe: tuple[asyncpg.Connection, OutboxRelay],
) -> None:
    """Published rows past ``retention_days`` go, at most once per ``purge_interval_s`` (a scan of the outbox: by the
    clock, not every thousand cycles, which paced traffic ran through in seconds); pending and recent rows stay."""
    conn, relay = probe
    schema = relay.schema
    add = f"""INSERT INTO {schema}.outbox (event_id, topic, message_key, payload, headers, published_at)
              VALUES (gen_random_uuid(), 'probe.v1', $1, '\\x00', '[]', now() - make_interval(days => $2))"""
    relay.purge_interval_s = 0
    await conn.execute(add, "published 8 days ago", 8)
    await conn.execute(add, "published 6 days ago", 6)
    await relay.cycle(conn, asyncio.Event())
    relay.purge_interval_s = 3600
    await relay.cycle(conn, asyncio.Event())  # due again only in an hour
    await conn.execute(add, "published 9 days ago", 9)
    await relay.cycle(conn, asyncio.Event())
    left = await conn.fetch(f"SELECT message_key FROM {schema}.outbox ORDER BY id")
    assert [row["message_key"] for row in left] == ["published 6 days ago", "published 9 days ago"]
