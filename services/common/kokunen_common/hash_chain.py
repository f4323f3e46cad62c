"""Append-only logs that prove themselves: each entry's hash covers its content and the previous entry's hash,
so editing, deleting or reordering any entry breaks every hash after it; ``verify_chain`` says where.

Used by the transfer log (提供・移転の記録, transfer_dispatch) and the access log (アクセスログ, counter): each
names the fields its hash covers. ``append_entry`` links a new row to one chain under a transaction-scoped lock
(appends are serialised: fine for a batch job's log). ``append_to_lane`` links it to one of several parallel
chains (lanes) of the same table in one round trip (a database function, ``lane_append_ddl``), so that concurrent
requests append side by side; ``verify_lanes`` checks every lane and names the first broken row of the whole table.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import asyncpg

GENESIS = b"\x00" * 32


def _stable(value: Any) -> Any:
    """Values in one form whoever reads them: a time in UTC (a session time zone or a driver that returns
    local times must not change the bytes), sequences as lists."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("a log time must carry its time zone")
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_stable(v) for v in value]
    return value


def canonical(entry: Mapping[str, Any], fields: Sequence[str]) -> bytes:
    """A stable byte form of an entry's content (its own hash excluded)."""
    content = {k: _stable(entry[k]) for k in fields}
    return json.dumps(content, ensure_ascii=False, sort_keys=True, default=str, separators=(",", ":")).encode()


def entry_hash(previous: bytes, entry: Mapping[str, Any], fields: Sequence[str]) -> bytes:
    return hashlib.sha256(previous + canonical(entry, fields)).digest()


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    problem: str


def verify_chain(
    entries: Iterable[Mapping[str, Any]], fields: Sequence[str], *, contiguous: bool = True
) -> list[ChainBreak]:
    """Check every link; entries in the order they are stored (by seq). ``contiguous``: seq must go up by one
    (a single chain); a lane's seq only goes up (its numbers come from a sequence shared by all lanes)."""
    breaks: list[ChainBreak] = []
    previous = GENESIS
    expected_seq: int | None = None
    for entry in entries:
        seq = int(entry["seq"])
        if expected_seq is not None and (seq != expected_seq if contiguous else seq < expected_seq):
            breaks.append(ChainBreak(seq, f"sequence gap or reorder: expected {expected_seq}"))
        if bytes(entry["prev_hash"]) != previous:
            breaks.append(ChainBreak(seq, "previous-hash link broken (a row before it was changed, removed or moved)"))
        if bytes(entry["entry_hash"]) != entry_hash(bytes(entry["prev_hash"]), entry, fields):
            breaks.append(ChainBreak(seq, "content does not match its hash (the row was edited)"))
        previous = bytes(entry["entry_hash"])
        expected_seq = seq + 1
    return breaks


async def append_entry(
    conn: asyncpg.Connection, table: str, entry: Mapping[str, Any], fields: Sequence[str]
) -> dict[str, Any]:
    """Insert ``entry`` into ``table`` (``schema.name``, columns ``fields`` + prev_hash, entry_hash) linked to the
    last row; ``seq`` is assigned here. Serialised by an advisory lock held until the transaction ends."""
    return (await append_entries(conn, table, [entry], fields))[0]


async def append_entries(
    conn: asyncpg.Connection, table: str, entries: Sequence[Mapping[str, Any]], fields: Sequence[str]
) -> list[dict[str, Any]]:
    """``append_entry`` for several entries in order, each linked to the one before it: one lock, one read of the
    last row and one insert for them all."""
    if not entries:
        return []
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", table)
    last = await conn.fetchrow(f"SELECT seq, entry_hash FROM {table} ORDER BY seq DESC LIMIT 1")
    previous = bytes(last["entry_hash"]) if last else GENESIS
    seq = last["seq"] if last else 0
    linked: list[dict[str, Any]] = []
    for entry in entries:
        seq += 1
        full = {**entry, "seq": seq, "prev_hash": previous}
        full["entry_hash"] = previous = entry_hash(previous, full, fields)
        linked.append(full)
    columns = [*fields, "prev_hash", "entry_hash"]
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    await conn.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})",
        [[_column_value(full[c]) for c in columns] for full in linked],
    )
    return linked


def verify_lanes(entries: Iterable[Mapping[str, Any]], fields: Sequence[str], lanes: int) -> list[ChainBreak]:
    """Check each lane's chain (entries carry ``lane``; in seq order) and join the findings in seq order: the
    first break named is the first broken row of the table. A row outside the known lanes is a break too (no
    appender writes there: it was put in by hand)."""
    by_lane: dict[int, list[Mapping[str, Any]]] = {}
    breaks: list[ChainBreak] = []
    for entry in entries:
        lane = int(entry["lane"])
        if not 0 <= lane < lanes:
            breaks.append(ChainBreak(int(entry["seq"]), f"lane {lane} is not one of the {lanes} lanes"))
            continue
        by_lane.setdefault(lane, []).append(entry)
    for chain in by_lane.values():
        breaks += verify_chain(chain, fields, contiguous=False)
    return sorted(breaks, key=lambda b: b.seq)


SEQ_SENTINEL = -7_354_120_977_615_301
"""A seq no appender draws: the canonical form is made once with it and cut around it (``_around_seq``)."""


def _around_seq(entry: Mapping[str, Any], fields: Sequence[str]) -> tuple[bytes, bytes, bytes]:
    """The canonical form of ``entry`` with the seq left out, as the bytes before and after the seq's digits
    (canonical = head + str(seq) + tail), and the whole form with a stand-in seq (the row's JSON for the insert).
    The seq is drawn by the database under the lane's lock, after this is made."""
    whole = canonical({**entry, "seq": SEQ_SENTINEL}, fields)
    parts = whole.split(b'"seq":%d' % SEQ_SENTINEL)
    if len(parts) != 2:  # a key "seq" inside a value: never in the logs' fields
        raise ValueError("the entry names a seq more than once")
    return parts[0] + b'"seq":', parts[1], whole


def lane_append_ddl(table: str, sequence: str) -> str:
    """The function ``append_to_lane`` calls (``<table>_append``), for a table's migration: it takes a free lane,
    draws the seq, reads the lane's last hash and inserts the linked row — in one round trip. Each statement of a
    volatile PL/pgSQL function takes a fresh snapshot, so the lane's last row is read after the lock is granted and
    sees the previous holder's commit. The table's columns: the entry's fields + lane, prev_hash, entry_hash."""
    return f"""CREATE FUNCTION {table}_append(p_row jsonb, p_lanes int, p_start int, p_head bytea, p_tail bytea)
    RETURNS TABLE (o_seq bigint, o_lane int, o_prev_hash bytea, o_entry_hash bytea)
    LANGUAGE plpgsql VOLATILE AS $fn$
    DECLARE
        v_lane int;
        v_seq bigint;
        v_prev bytea;
        v_hash bytea;
    BEGIN
        -- Lanes tried one at a time from p_start until one is taken (OFFSET 0 keeps the subquery a subquery:
        -- flattened, a sort above the filter would try, and take, every lane); all busy: wait for p_start's.
        SELECT l INTO v_lane FROM (SELECT (g + p_start) % p_lanes AS l FROM generate_series(0, p_lanes - 1) g
                                   OFFSET 0) lanes
            WHERE pg_try_advisory_xact_lock(hashtext('{table}'), l) LIMIT 1;
        IF v_lane IS NULL THEN
            v_lane := p_start;
            PERFORM pg_advisory_xact_lock(hashtext('{table}'), v_lane);
        END IF;
        v_seq := nextval('{sequence}');  -- under the lock: seq rises along every lane
        SELECT t.entry_hash INTO v_prev FROM {table} t WHERE t.lane = v_lane ORDER BY t.seq DESC LIMIT 1;
        v_prev := coalesce(v_prev, '\\x{GENESIS.hex()}'::bytea);
        v_hash := sha256(v_prev || p_head || convert_to(v_seq::text, 'UTF8') || p_tail);
        INSERT INTO {table} SELECT * FROM jsonb_populate_record(NULL::{table}, p_row || jsonb_build_object(
            'seq', v_seq, 'lane', v_lane,
            'prev_hash', '\\x' || encode(v_prev, 'hex'), 'entry_hash', '\\x' || encode(v_hash, 'hex')));
        RETURN QUERY SELECT v_seq, v_lane, v_prev, v_hash;
    END $fn$"""


async def append_to_lane(
    conn: asyncpg.Connection,
    table: str,
    entry: Mapping[str, Any],
    fields: Sequence[str],
    *,
    lanes: int,
) -> dict[str, Any]:
    """Insert ``entry`` into ``table`` (columns ``fields`` + lane, prev_hash, entry_hash) linked to the last row
    of a free lane, through the table's ``<table>_append`` function (``lane_append_ddl``): one round trip. The
    lane's lock is held until the transaction ends (in autocommit: the statement's own).

    A lane is taken without waiting if any is free (starting at a random one, so lanes fill evenly); when all are
    busy, it waits for one. entry_hash = sha256(prev_hash || canonical content), as entry_hash() computes it: the
    canonical form is made here, the seq's digits put in by the database."""
    head, tail, row = _around_seq(entry, fields)
    taken = await conn.fetchrow(
        f"SELECT * FROM {table}_append($1::jsonb, $2, $3, $4, $5)",
        row.decode(),
        lanes,
        secrets.randbelow(lanes),
        head,
        tail,
    )
    return {
        **entry,
        "seq": taken["o_seq"],
        "lane": taken["o_lane"],
        "prev_hash": bytes(taken["o_prev_hash"]),
        "entry_hash": bytes(taken["o_entry_hash"]),
    }


def _column_value(value: Any) -> Any:
    """Sequences go to array columns; a dict to a jsonb column as JSON text — read back and parsed, it hashes the
    same."""
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return list(value) if isinstance(value, tuple) else value
