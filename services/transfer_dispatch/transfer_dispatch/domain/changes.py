"""移転4 (資格異動情報 → 国保年金課): which records a month's qualification changes of one person call for.

The rule, free of I/O (docs/departmental-transfers.md, "Order, corrections and cancellations"):

- A person's changes are read in the order eligibility published them (their order of arrival), never by a
  clock or an id: a cancellation always comes after the change it cancels.
- The department holds, per person, the records in force: a record sent and not yet named by a later one.
  A record naming another (``corrects_record_id``) takes it out of force; a ``cancelled`` one withdraws it.
- 資格取得・喪失・種別変更 each go out as a record. A correction (訂正) replaces the record of the change it names.
- A cancellation (取消) withdraws what it undoes. When it takes a loss back (the period is open again, the
  change it names had ended it) that is the loss's record only — and if what is left in force of the period
  is not the period as it now stands (it was corrected while ended), that record is corrected too; when the
  whole period no longer holds, every record of the period still in force.
- Within one batch a change and its cancellation cancel out: neither is sent (and if the cancelled change
  was correcting a record of an earlier batch, that record is withdrawn). A change corrected within the
  batch goes out once, as last corrected, naming the earlier batch's record it replaces, if any.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from kokunen_common.ids import derived_id
from kokunen_contracts.eligibility import QualificationChangeKind


@dataclass(frozen=True)
class KeptChange:
    """資格異動 as dispatch keeps it: the eligibility event, what it replaces, its period and its fields."""

    record_id: uuid.UUID  # the id of the record that carries this change (derived from the event)
    source_event_id: uuid.UUID
    replaces_event_id: uuid.UUID | None
    period_id: uuid.UUID | None  # 資格期間ID (None for changes kept before it was kept)
    kind: QualificationChangeKind
    lost_on: date | None
    replaced_lost_on: date | None = None  # the loss date of the change it replaces (a cancellation undoing a loss)
    fields: Mapping[str, Any] = field(default_factory=dict, compare=False)  # the policy picks its own

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> KeptChange:
        return cls(
            record_id=row["record_id"],
            source_event_id=row["source_event_id"],
            replaces_event_id=row["replaces_event_id"],
            period_id=row["period_id"],
            kind=QualificationChangeKind(row["change_kind"]),
            lost_on=row["lost_on"],
            replaced_lost_on=row["replaced_lost_on"],
            fields=row,
        )


@dataclass(frozen=True)
class RecordInForce:
    """A record the department holds in force: the change it carried."""

    record_id: uuid.UUID
    change: KeptChange


@dataclass(frozen=True)
class PlannedRecord:
    """One record to send: the change whose fields it carries, its id, and the record it corrects or withdraws."""

    change: KeptChange
    record_id: uuid.UUID
    corrects_record_id: uuid.UUID | None = None
    cancelled: bool = False


@dataclass
class _Held:
    """A record in force at the department once the batch is applied: sent earlier, or planned now."""

    record_id: uuid.UUID
    change: KeptChange
    planned: PlannedRecord | None = None  # None: sent in an earlier batch

    @property
    def replaces_sent(self) -> uuid.UUID | None:
        """The earlier batch's record this one takes out of force, when it is planned."""
        if self.planned is None:
            return self.record_id
        return self.planned.corrects_record_id


def plan_person(
    changes: Sequence[KeptChange], in_force: Sequence[RecordInForce], carried: Sequence[str]
) -> list[PlannedRecord]:
    """The records one person's ``changes`` (not yet sent, in arrival order) call for, given the records the
    department holds in force for the person; in the order they are to be sent. ``carried`` names the fields a
    record carries (the policy's): a period reopened must be held as it now stands in those fields."""
    held = [_Held(r.record_id, r.change) for r in in_force]
    planned: list[PlannedRecord] = []
    made: dict[uuid.UUID, int] = {}

    def record_id(change: KeptChange) -> uuid.UUID:
        """The first record a change causes carries the change's own id; any further one an id derived from it."""
        n = made[change.record_id] = made.get(change.record_id, 0) + 1
        return change.record_id if n == 1 else derived_id(change.record_id, "record", n)

    def take_out(entry: _Held) -> uuid.UUID | None:
        """Take ``entry`` out of force; the earlier batch's record that must be named for it, if any."""
        held.remove(entry)
        if entry.planned is not None:
            planned.remove(entry.planned)  # not sent yet: it need never be
        return entry.replaces_sent

    def send(change: KeptChange, corrects: uuid.UUID | None) -> None:
        record = PlannedRecord(change, record_id(change), corrects_record_id=corrects)
        planned.append(record)
        held.append(_Held(record.record_id, change, record))

    def of_period(change: KeptChange) -> list[_Held]:
        return [h for h in held if change.period_id is not None and h.change.period_id == change.period_id]

    for change in changes:
        named = change.replaces_event_id
        target = next((h for h in held if h.change.source_event_id == named), None) if named else None
        if change.kind is not QualificationChangeKind.CANCELLED:
            # 取得・喪失・種別変更 go out as they are; a correction (訂正) replaces the record of what it names.
            corrected = change.kind is QualificationChangeKind.CORRECTED and target is not None
            send(change, take_out(target) if corrected and target is not None else None)
            continue
        # Taking a loss back opens the period again; any other cancellation ends the whole period.
        reopened = change.lost_on is None and change.replaced_lost_on is not None
        gone = [target] if target is not None else []
        if not reopened:
            gone += [h for h in of_period(change) if h is not target]
        for entry in gone:
            sent = take_out(entry)
            if sent is not None:  # None: planned in this batch and cancelled in it, so neither goes out
                planned.append(PlannedRecord(change, record_id(change), corrects_record_id=sent, cancelled=True))
        if reopened:
            # What the department is left holding of the period must be the period as it now stands (a
            # correction made while it was ended lived only in the record just withdrawn).
            rest = of_period(change)
            last = rest[-1] if rest else None
            if last is None or any(last.change.fields.get(f) != change.fields.get(f) for f in carried):
                send(change, take_out(last) if last is not None else None)
    return planned
