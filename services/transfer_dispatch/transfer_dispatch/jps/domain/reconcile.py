"""突合 (reconciliation) of a processing-result list against what was sent, as a pure function.

Each sent record of the batches the list names ends in exactly one class:
- matched: a line for it whose fields agree with what was sent;
- mismatched: a line for it where some field differs (the fields are named, their values are not);
- missing: no line for it in the list.
A line that names no record sent (or one already answered earlier in the same list, or that cannot be
read) is unexpected. A field JPS leaves blank is not compared.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from .results_list import ResultLine

FIELD_LABELS = {
    "batch_id": "送付番号",
    "atena_number": "宛名番号",
    "basic_pension_number": "基礎年金番号",
    "report_kind": "届書種別",
    "insured_category": "被保険者種別",
    "acquired_on": "資格取得年月日",
    "lost_on": "資格喪失年月日",
    "my_number": "個人番号",
}
COMPARED = (
    "batch_id",
    "atena_number",
    "basic_pension_number",
    "report_kind",
    "insured_category",
    "acquired_on",
    "lost_on",
)


@dataclass(frozen=True)
class SentItem:
    batch_id: str
    seq: int
    report_id: uuid.UUID
    report_kind: str
    atena_number: str | None
    basic_pension_number: str | None
    insured_category: str | None
    acquired_on: date | None
    lost_on: date | None
    my_number_hash: bytes | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> SentItem:
        return cls(
            batch_id=row["batch_id"],
            seq=row["seq"],
            report_id=row["report_id"],
            report_kind=row["report_kind"],
            atena_number=row["atena_number"],
            basic_pension_number=row["basic_pension_number"],
            insured_category=row["insured_category"],
            acquired_on=row["acquired_on"],
            lost_on=row["lost_on"],
            my_number_hash=bytes(row["my_number_hash"]) if row["my_number_hash"] is not None else None,
        )


@dataclass(frozen=True)
class Outcome:
    reconciliation: str  # matched / mismatched / missing / unexpected
    line: ResultLine | None
    item: SentItem | None
    mismatched_fields: tuple[str, ...] = ()
    note: str | None = None

    @property
    def atena_number(self) -> str | None:
        if self.item is not None and self.item.atena_number:
            return self.item.atena_number
        return self.line.atena_number if self.line else None


def reconcile(
    sent: Iterable[SentItem], lines: Iterable[ResultLine], my_number_hash: Callable[[str], bytes | None]
) -> list[Outcome]:
    """Outcomes in list order, then the missing records in the order they were sent."""
    by_report = {item.report_id: item for item in sent}
    answered: set[uuid.UUID] = set()
    outcomes: list[Outcome] = []
    for line in lines:
        item = by_report.get(line.report_id) if line.report_id else None
        if line.problems:
            outcomes.append(Outcome("unexpected", line, item, note="; ".join(line.problems)))
            continue
        if item is None:
            outcomes.append(Outcome("unexpected", line, None, note="送付していない受付番号"))
            continue
        if item.report_id in answered:
            outcomes.append(Outcome("unexpected", line, item, note="同じ受付番号の行が重複"))
            continue
        answered.add(item.report_id)
        differing = [f for f in COMPARED if getattr(line, f) is not None and getattr(line, f) != getattr(item, f)]
        if line.my_number is not None and my_number_hash(line.my_number) != item.my_number_hash:
            differing.append("my_number")
        outcomes.append(Outcome("mismatched" if differing else "matched", line, item, tuple(differing)))
    missing = [item for item in by_report.values() if item.report_id not in answered]
    missing.sort(key=lambda i: (i.batch_id, i.seq))
    outcomes += [Outcome("missing", None, item, note="処理結果一覧表に記載なし") for item in missing]
    return outcomes


def counts(outcomes: Iterable[Outcome]) -> dict[str, int]:
    result = {"matched": 0, "mismatched": 0, "missing": 0, "unexpected": 0}
    for outcome in outcomes:
        result[outcome.reconciliation] += 1
    return result
