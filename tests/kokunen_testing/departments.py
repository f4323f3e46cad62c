"""How a receiving department reads a transfer topic (docs/departmental-transfers.md, "What a department holds").

Written from the contract, independently of how transfer_dispatch decides what to send, so that tests can
compare what a department ends up believing with what eligibility holds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "integration.md"


def records_in_force(records: Iterable[Mapping[str, Any]], subject: str) -> dict[str, list[Mapping[str, Any]]]:
    """Apply records in the order they were sent, per subject (``subject`` names the key field): a record that
    names another (``corrects_record_id``) takes it out of force; a record that is not ``cancelled`` is in force
    until a later one names it."""
    held: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        mine = held.setdefault(str(record[subject]), [])
        named = record.get("corrects_record_id")
        if named is not None:
            mine[:] = [r for r in mine if str(r["record_id"]) != str(named)]
        if not record.get("cancelled", False):
            mine.append(record)
    return held


def latest_state(records: Iterable[Mapping[str, Any]], subject: str) -> dict[str, Mapping[str, Any] | None]:
    """Each subject's latest state as the department holds it: its last record in force (None: nothing holds)."""
    return {key: (mine[-1] if mine else None) for key, mine in records_in_force(records, subject).items()}


def documented_completeness_check() -> Callable[[Mapping[str, Any], list[Mapping[str, Any]]], bool]:
    """``batch_is_whole`` exactly as docs/integration.md gives it to the departments (its Python block, run)."""
    found = re.search(r"```python\n(.*?)```", GUIDE.read_text(), re.DOTALL)
    assert found, "docs/integration.md has no Python block"
    namespace: dict[str, Any] = {}
    exec(found[1], namespace)  # our own committed documentation, run as a department would
    check: Callable[[Mapping[str, Any], list[Mapping[str, Any]]], bool] = namespace["batch_is_whole"]
    return check
