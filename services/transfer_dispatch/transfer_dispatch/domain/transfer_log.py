"""提供・移転の記録 (record of provisions and transfers): append-only, hash-chained (kokunen_common.hash_chain).

Each entry's hash covers its content and the previous entry's hash, so editing, deleting or
reordering any entry breaks every hash after it; ``verify_chain`` says where.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kokunen_common import hash_chain
from kokunen_common.hash_chain import GENESIS, ChainBreak

__all__ = ["GENESIS", "LOG_FIELDS", "ChainBreak", "canonical", "entry_hash", "verify_against_batches", "verify_chain"]

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


def canonical(entry: Mapping[str, Any]) -> bytes:
    """A stable byte form of an entry's content (its own hash excluded)."""
    return hash_chain.canonical(entry, LOG_FIELDS)


def entry_hash(previous: bytes, entry: Mapping[str, Any]) -> bytes:
    return hash_chain.entry_hash(previous, entry, LOG_FIELDS)


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
    return hash_chain.verify_chain(entries, LOG_FIELDS)
