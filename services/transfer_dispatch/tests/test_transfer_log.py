"""提供・移転の記録: the hash chain finds an edited, deleted or reordered entry whatever the reader's time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from transfer_dispatch.domain.transfer_log import GENESIS, canonical, entry_hash, verify_against_batches, verify_chain


def chain(n: int) -> list[dict]:
    entries, previous = [], GENESIS
    for seq in range(1, n + 1):
        entry = {
            "seq": seq,
            "batch_id": f"child_allowance-2026-{seq:02d}",
            "policy_id": "child_allowance",
            "recipient": "子ども未来局 子育て支援課",
            "purpose": "p",
            "legal_basis": "番号法9条2項",
            "fields": ["basic_pension_number", "insured_category"],
            "record_count": 10 * seq,
            "logged_at": datetime(2026, seq, 1, 2, 0, 0, 123456, tzinfo=UTC),
            "prev_hash": previous,
        }
        entry["entry_hash"] = entry_hash(previous, entry)
        previous = entry["entry_hash"]
        entries.append(entry)
    return entries


def test_an_untouched_chain_verifies() -> None:
    assert verify_chain(chain(5)) == []


def test_the_same_instant_read_in_another_time_zone_hashes_the_same() -> None:
    entry = chain(1)[0]
    in_tokyo = {**entry, "logged_at": entry["logged_at"].astimezone(ZoneInfo("Asia/Tokyo"))}
    assert canonical(in_tokyo) == canonical(entry)
    assert verify_chain([in_tokyo]) == []


def test_an_edited_entry_is_found() -> None:
    entries = chain(5)
    entries[2]["record_count"] = 1
    breaks = verify_chain(entries)
    assert [b.seq for b in breaks] == [3]
    assert "edited" in breaks[0].problem


def test_a_deleted_entry_is_found() -> None:
    entries = chain(5)
    del entries[2]
    problems = {b.seq: b.problem for b in verify_chain(entries)}
    assert 4 in problems
    assert "gap" in problems[4] or "link" in problems[4]


def test_reordered_entries_are_found() -> None:
    entries = chain(5)
    entries[1], entries[2] = entries[2], entries[1]
    assert verify_chain(entries)


def test_a_removed_last_entry_shows_as_a_batch_without_its_entry() -> None:
    entries = chain(3)
    batches = [
        {"batch_id": e["batch_id"], "policy_id": e["policy_id"], "record_count": e["record_count"]} for e in entries
    ]
    assert verify_chain(entries[:2]) == []  # the chain alone cannot tell
    breaks = verify_against_batches(entries[:2], batches)
    assert len(breaks) == 1
    assert "child_allowance-2026-03" in breaks[0].problem
