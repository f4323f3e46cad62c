"""Dated parameter tables (適用期間付きの定数表).

The law changes its amounts and thresholds every few years, and a past period must still be judged by the
value in force at the time. So every such number lives in a table of dated entries, never as a bare literal
inside a rule. Each entry names its source; a source marked **[unconfirmed]** comes from practice or
inference and may be corrected without touching the rules that read it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date
from typing import Generic, TypeVar

T = TypeVar("T")


class NotInForceError(LookupError):
    """No entry of the table is in force on the day asked (施行前, or after repeal): the rule cannot be judged."""


@dataclass(frozen=True)
class Dated(Generic[T]):
    """One value and the days it is in force (適用期間): ``valid_from`` to ``valid_to``, both inclusive.

    ``valid_to`` None means still in force. ``source`` names the article, notice or practice it comes from.
    """

    value: T
    valid_from: date
    valid_to: date | None = None
    source: str = ""

    def __post_init__(self) -> None:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError(f"valid_to {self.valid_to} is before valid_from {self.valid_from}")

    def in_force_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


@dataclass(frozen=True)
class DatedTable(Generic[T]):
    """A named table of dated values whose periods never overlap, so a day has at most one value."""

    name: str
    entries: tuple[Dated[T], ...]

    def __post_init__(self) -> None:
        ordered = sorted(self.entries, key=lambda entry: entry.valid_from)
        for earlier, later in itertools.pairwise(ordered):
            if earlier.valid_to is None or earlier.valid_to >= later.valid_from:
                raise ValueError(f"{self.name}: entries from {earlier.valid_from} and {later.valid_from} overlap")
        # Keep them in date order so that reading the table reads like the law's history.
        object.__setattr__(self, "entries", tuple(ordered))

    def entry_on(self, day: date) -> Dated[T]:
        """The entry in force on ``day``; raises NotInForceError if there is none."""
        for entry in self.entries:
            if entry.in_force_on(day):
                return entry
        raise NotInForceError(f"{self.name}: no value in force on {day.isoformat()}")

    def on(self, day: date) -> T:
        """The value in force on ``day``; raises NotInForceError if there is none."""
        return self.entry_on(day).value
