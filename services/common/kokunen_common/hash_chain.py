"""Append-only logs that prove themselves: each entry's hash covers its content and the previous entry's hash,
so editing, deleting or reordering any entry breaks every hash after it; ``verify_chain`` says where.

Used by the transfer log (提供・移転の記録, transfer_dispatch) and the access log (アクセスログ, counter): each
names the fields its hash covers; ``append_entry`` links a new row under a transaction-scoped lock.
"""

from __future__ import annotations

import hashlib
import json
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


def verify_chain(entries: Iterable[Mapping[str, Any]], fields: Sequence[str]) -> list[ChainBreak]:
    """Check every link; entries in the order they are stored (by seq)."""
    breaks: list[ChainBreak] = []
    previous = GENESIS
    expected_seq: int | None = None
    for entry in entries:
        seq = int(entry["seq"])
        if expected_seq is not None and seq != expected_seq:
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
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", table)
    last = await conn.fetchrow(f"SELECT seq, entry_hash FROM {table} ORDER BY seq DESC LIMIT 1")
    previous = bytes(last["entry_hash"]) if last else GENESIS
    full = {**entry, "seq": (last["seq"] + 1) if last else 1, "prev_hash": previous}
    full["entry_hash"] = entry_hash(previous, full, fields)
    columns = [*fields, "prev_hash", "entry_hash"]
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    await conn.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})",
        *[_column_value(full[c]) for c in columns],
    )
    return full


def _column_value(value: Any) -> Any:
    """Sequences go to array columns; a dict to a jsonb column as JSON text — read back and parsed, it hashes the
    same."""
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return list(value) if isinstance(value, tuple) else value
