"""提供・移転の記録 (record of provisions and transfers): append-only, hash-chained.

Each entry's hash covers its content and the previous entry's hash, so editing, deleting or
reordering any entry breaks every hash after it; ``verify_chain`` says where.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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


def canonical(entry: Mapping[str, Any]) -> bytes:
    """A stable byte form of an entry's content (its own hash excluded)."""
    content = {k: entry[k] for k in LOG_FIELDS}
    return json.dumps(content, ensure_ascii=False, sort_keys=True, default=str, separators=(",", ":")).encode()


def entry_hash(previous: bytes, entry: Mapping[str, Any]) -> bytes:
    return hashlib.sha256(previous + canonical(entry)).digest()


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    problem: str


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
