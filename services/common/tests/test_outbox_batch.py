"""OutboxBuffer.publish_batch writes the same rows as publish(..., traced=False), only faster."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from kokunen_common.outbox import OutboxBuffer, decode_headers
from kokunen_contracts.registry import CHILD_ALLOWANCE_TRANSFER
from kokunen_contracts.transfer import ChildAllowanceInsuredTransfer


def record(n: int, at: datetime) -> ChildAllowanceInsuredTransfer:
    return ChildAllowanceInsuredTransfer(
        event_id=uuid.uuid4(),
        effective_date=date(2026, 10, 1),
        recorded_at=at,
        record_id=uuid.uuid4(),
        batch_id="child_allowance-2026-10",
        basic_pension_number=f"1234-{n:06d}",
        insured_category="category_1",
        acquired_on=date(2006, 6, 15),
    )


def test_publish_batch_writes_the_rows_publish_writes() -> None:
    at = datetime.now(UTC)
    events = [record(n, at + timedelta(seconds=n // 2)) for n in range(5)]  # two recorded_at per template
    one_by_one, batched = (
        OutboxBuffer("dispatch", "/kokunen/transfer_dispatch"),
        OutboxBuffer("dispatch", "/kokunen/transfer_dispatch"),
    )
    for event in events:
        one_by_one.publish(CHILD_ALLOWANCE_TRANSFER, event, traced=False)
    batched.publish_batch(CHILD_ALLOWANCE_TRANSFER, events)
    for expected, got in zip(one_by_one.rows, batched.rows, strict=True):
        assert got[:4] == expected[:4]
        assert decode_headers(got[4]) == decode_headers(expected[4])
