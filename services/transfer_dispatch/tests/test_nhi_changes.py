"""移転4's rule (domain/changes.py): whatever the order of a person's acquisitions, losses, corrections and
cancellations, and however they fall into monthly batches, the NHI department ends up holding what
eligibility holds.

Eligibility is modelled here by its published semantics (history_diff: a correction or cancellation names
the period's last event; taking a loss back reopens the period; a cancelled period is gone), and the
department by its reading of the contract (kokunen_testing.departments), not by the rule under test.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from kokunen_contracts.eligibility import QualificationChangeKind as K
from kokunen_testing.departments import records_in_force
from transfer_dispatch.domain.changes import KeptChange, PlannedRecord, RecordInForce, plan_person

ATENA = "0000000001"
STATE_FIELDS = ("insured_category", "acquired_on", "acquisition_reason", "lost_on", "loss_reason")
CARRIED = ("atena_number", *STATE_FIELDS)  # what the records carry of the person (the policy's fields, here)


@dataclass
class Period:
    period_id: uuid.UUID
    insured_category: str
    acquired_on: date
    acquisition_reason: str
    lost_on: date | None = None
    loss_reason: str | None = None
    last_event_id: uuid.UUID | None = None

    def state(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in STATE_FIELDS}


class Eligibility:
    """One person's qualification periods as eligibility keeps them, and the changes it publishes."""

    def __init__(self) -> None:
        self.periods: list[Period] = []
        self.published: list[KeptChange] = []
        self._lost_on: dict[uuid.UUID, date | None] = {}

    def latest(self) -> dict[str, Any] | None:
        return self.periods[-1].state() if self.periods else None

    def _publish(self, kind: K, period: Period, replaces: uuid.UUID | None) -> None:
        event_id = uuid.UUID(int=len(self.published) + 1)
        self.published.append(
            KeptChange(
                record_id=uuid.uuid5(event_id, "transfer-record"),
                source_event_id=event_id,
                replaces_event_id=replaces,
                period_id=period.period_id,
                kind=kind,
                lost_on=period.lost_on,
                replaced_lost_on=self._lost_on.get(replaces) if replaces else None,
                fields={"atena_number": ATENA, **period.state()},
            )
        )
        self._lost_on[event_id] = period.lost_on
        period.last_event_id = event_id

    def apply(self, op: str, days: int, flag: bool) -> None:
        latest = self.periods[-1] if self.periods else None
        if op == "acquire" and (latest is None or latest.lost_on is not None):
            start = (latest.lost_on if latest and latest.lost_on else date(2026, 4, 1)) + timedelta(days=days)
            reason = "category_change" if flag else "moved_in_from_abroad"
            period = Period(uuid.uuid4(), "category_1", start, reason)
            self.periods.append(period)
            self._publish(K.CATEGORY_CHANGED if flag else K.ACQUIRED, period, None)
        elif op == "lose" and latest is not None and latest.lost_on is None:
            latest.lost_on, latest.loss_reason = latest.acquired_on + timedelta(days=days), "death"
            self._publish(K.LOST, latest, None)
        elif op == "correct" and latest is not None:
            if latest.lost_on is not None and flag:
                latest.lost_on = latest.acquired_on + timedelta(days=days)
            else:
                latest.insured_category = "voluntary" if latest.insured_category == "category_1" else "category_1"
            self._publish(K.CORRECTED, latest, latest.last_event_id)
        elif op == "cancel_loss" and latest is not None and latest.lost_on is not None:
            latest.lost_on = latest.loss_reason = None
            self._publish(K.CANCELLED, latest, latest.last_event_id)
        elif op == "cancel_period" and latest is not None:
            self._publish(K.CANCELLED, latest, latest.last_event_id)  # the period as it stood
            self.periods.pop()


def as_sent(record: PlannedRecord) -> dict[str, Any]:
    """The record as the department receives it (the policy's fields and the record metadata)."""
    return {
        **record.change.fields,
        "record_id": record.record_id,
        "corrects_record_id": record.corrects_record_id,
        "cancelled": record.cancelled,
        "change": record.change,
    }


def run_batches(published: list[KeptChange], batch_ends: list[bool]) -> list[list[dict[str, Any]]]:
    """Send ``published`` in batches (a batch ends after each change whose flag is set, and at the end);
    the department's records in force after each batch."""
    sent: list[dict[str, Any]] = []
    held_after: list[list[dict[str, Any]]] = []
    pending: list[KeptChange] = []
    for change, ends in zip(published, [*batch_ends[: len(published) - 1], True], strict=True):
        pending.append(change)
        if not ends:
            continue
        in_force = records_in_force(sent, "atena_number").get(ATENA, [])
        batch = plan_person(pending, [RecordInForce(r["record_id"], r["change"]) for r in in_force], CARRIED)
        for record in map(as_sent, batch):
            held = {str(r["record_id"]) for r in records_in_force(sent, "atena_number").get(ATENA, [])}
            named = record["corrects_record_id"]
            assert named is None or str(named) in held, "a record names one the department does not hold"
            sent.append(record)
        held_after.append(list(records_in_force(sent, "atena_number").get(ATENA, [])))
        pending = []
    return held_after


OPS = st.sampled_from(["acquire", "lose", "correct", "cancel_loss", "cancel_period"])


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.tuples(OPS, st.integers(1, 400), st.booleans()), min_size=1, max_size=14),
    st.lists(st.booleans(), max_size=14),
)
def test_the_department_always_ends_up_holding_what_eligibility_holds(
    ops: list[tuple[str, int, bool]], cuts: list[bool]
) -> None:
    eligibility = Eligibility()
    states: list[dict[str, Any] | None] = []  # eligibility's latest state after each published change
    for op, days, flag in ops:
        before = len(eligibility.published)
        eligibility.apply(op, days, flag)
        if len(eligibility.published) > before:
            states.append(eligibility.latest())
    if not eligibility.published:
        return
    batch_ends = [*cuts, *[False] * len(eligibility.published)][: len(eligibility.published)]
    held_after = run_batches(eligibility.published, batch_ends)
    ends_at = [i for i, ends in enumerate([*batch_ends[:-1], True]) if ends]
    for held, last_change in zip(held_after, ends_at, strict=True):
        department = {f: held[-1][f] for f in STATE_FIELDS} if held else None
        assert department == states[last_change]


def change(n: int, kind: K, *, replaces: int | None = None, lost_on: date | None = None, **kw: Any) -> KeptChange:
    """A kept change of period 1 (event id n), for the worked examples below."""
    return KeptChange(
        record_id=uuid.UUID(int=1000 + n),
        source_event_id=uuid.UUID(int=n),
        replaces_event_id=uuid.UUID(int=replaces) if replaces else None,
        period_id=uuid.UUID(int=1),
        kind=kind,
        lost_on=lost_on,
        **kw,
    )


ACQUIRED = change(1, K.ACQUIRED)
DIED = change(2, K.LOST, lost_on=date(2026, 11, 1))
DEATH_CANCELLED = change(3, K.CANCELLED, replaces=2, replaced_lost_on=date(2026, 11, 1))


def test_a_death_and_its_cancellation_in_one_batch_send_neither() -> None:
    assert plan_person([ACQUIRED, DIED, DEATH_CANCELLED], [], CARRIED) == [PlannedRecord(ACQUIRED, ACQUIRED.record_id)]


def test_a_cancellation_after_the_batch_withdraws_the_loss_it_sent() -> None:
    sent = [RecordInForce(ACQUIRED.record_id, ACQUIRED), RecordInForce(DIED.record_id, DIED)]
    assert plan_person([DEATH_CANCELLED], sent, CARRIED) == [
        PlannedRecord(DEATH_CANCELLED, DEATH_CANCELLED.record_id, corrects_record_id=DIED.record_id, cancelled=True)
    ]


def test_a_cancelled_correction_withdraws_the_earlier_batchs_record_it_replaced() -> None:
    corrected = change(3, K.CORRECTED, replaces=2, lost_on=date(2026, 12, 1), replaced_lost_on=date(2026, 11, 1))
    cancelled = change(4, K.CANCELLED, replaces=3, replaced_lost_on=date(2026, 12, 1))
    sent = [RecordInForce(ACQUIRED.record_id, ACQUIRED), RecordInForce(DIED.record_id, DIED)]
    assert plan_person([corrected, cancelled], sent, CARRIED) == [
        PlannedRecord(cancelled, cancelled.record_id, corrects_record_id=DIED.record_id, cancelled=True)
    ]


def test_a_cancelled_period_withdraws_every_record_of_it_in_force() -> None:
    gone = change(3, K.CANCELLED, replaces=2, lost_on=date(2026, 11, 1), replaced_lost_on=date(2026, 11, 1))
    sent = [RecordInForce(ACQUIRED.record_id, ACQUIRED), RecordInForce(DIED.record_id, DIED)]
    records = plan_person([gone], sent, CARRIED)
    assert [(r.corrects_record_id, r.cancelled) for r in records] == [
        (DIED.record_id, True),
        (ACQUIRED.record_id, True),
    ]
    assert records[0].record_id == gone.record_id
    assert len({r.record_id for r in records}) == 2


def test_a_correction_within_the_batch_goes_out_once_as_last_corrected() -> None:
    fixed = change(3, K.CORRECTED, replaces=2, lost_on=date(2026, 12, 1), replaced_lost_on=date(2026, 11, 1))
    assert plan_person([ACQUIRED, DIED, fixed], [], CARRIED) == [
        PlannedRecord(ACQUIRED, ACQUIRED.record_id),
        PlannedRecord(fixed, fixed.record_id),
    ]


def test_a_death_taken_back_leaves_the_period_as_it_was_corrected_meanwhile() -> None:
    acquired = replace(ACQUIRED, fields={"insured_category": "category_1"})
    died = replace(DIED, fields={"insured_category": "category_1", "lost_on": DIED.lost_on})
    voluntary = {"insured_category": "voluntary", "lost_on": DIED.lost_on}
    corrected = change(
        3, K.CORRECTED, replaces=2, lost_on=DIED.lost_on, replaced_lost_on=DIED.lost_on, fields=voluntary
    )
    taken_back = change(
        4, K.CANCELLED, replaces=3, replaced_lost_on=DIED.lost_on, fields={"insured_category": "voluntary"}
    )
    sent = [RecordInForce(acquired.record_id, acquired), RecordInForce(died.record_id, died)]
    records = plan_person([corrected, taken_back], sent, CARRIED)
    # The loss is withdrawn, and the acquisition's record corrected to the period as it now stands.
    assert [(r.corrects_record_id, r.cancelled, r.change.fields.get("insured_category")) for r in records] == [
        (DIED.record_id, True, "voluntary"),
        (ACQUIRED.record_id, False, "voluntary"),
    ]
    assert records[0].record_id == taken_back.record_id != records[1].record_id
