"""提供・移転の記録 (record of provisions and transfers): append-only, hash-chained.

Each entry's hash covers its content and the previous entry's hash, so editing, deleting or
reordering any entry breaks every hash after it; ``verify_chain`` says where.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = b"\x00" * 32

LOG_FIELDS = (
    "seq",
    "batch_id",
    "policy_id",
    "recipient",
    "purpose",
    "legal_basis",
    "fields",
    "record_count",
    "logged_at",
)


def _stable(value: Any) -> Any:
    """Values in one form whoever reads them: a time in UTC (a session time zone or a driver that returns
    local times must not change the bytes), sequences as lists."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("a transfer log time must carry its time zone")
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, (list, tuple)):
        return [_stable(v) for v in value]
    return value


def canonical(entry: Mapping[str, Any]) -> bytes:
    """A stable byte form of an entry's content (its own hash excluded)."""
    content = {k: _stable(entry[k]) for k in LOG_FIELDS}
    return json.dumps(content, ensure_ascii=False, sort_keys=True, default=str, separators=(",", ":")).encode()


def entry_hash(previous: bytes, entry: Mapping[str, Any]) -> bytes:
    return hashlib.sha256(previous + canonical(entry)).digest()


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    problem: str


def verify_against_batches(
    entries: Iterable[Mapping[str, Any]], batches: Iterable[Mapping[str, Any]]
) -> list[ChainBreak]:
    """Every batch sent has exactly one log entry with its recipient and count: a removed last entry
    (which leaves no broken link behind it) still shows as a batch without its record."""
    logged: dict[str, list[Mapping[str, Any]]] = {}
    for entry in entries:
        logged.setdefault(str(entry["batch_id"]), []).append(entry)
    breaks: list[ChainBreak] = []
    for batch in batches:
        found = logged.get(str(batch["batch_id"]), [])
        if not found and batch.get("completed_at", True) is None:
            breaks.append(ChainBreak(0, f"batch {batch['batch_id']} is incomplete (a run stopped midway: rerun it)"))
            continue
        if not found:
            breaks.append(ChainBreak(0, f"batch {batch['batch_id']} was sent but has no log entry (removed?)"))
            continue
        if len(found) > 1:
            breaks.append(ChainBreak(int(found[1]["seq"]), f"batch {batch['batch_id']} is logged more than once"))
        entry = found[0]
        if entry["policy_id"] != batch["policy_id"] or int(entry["record_count"]) != int(batch["record_count"]):
            breaks.append(ChainBreak(int(entry["seq"]), f"entry disagrees with batch {batch['batch_id']}"))
    return breaks


def verify_chain(entries: Iterable[Mapping[str, Any]]) -> list[ChainBreak]:
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
        if bytes(entry["entry_hash"]) != entry_hash(bytes(entry["prev_hash"]), entry):
            breaks.append(ChainBreak(seq, "content does not match its hash (the row was edited)"))
        previous = bytes(entry["entry_hash"])
        expected_seq = seq + 1
    return breaks
