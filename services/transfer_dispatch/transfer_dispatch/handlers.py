"""Service layer of transfer_dispatch: keep qualification changes, run the policy-bound batches."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import asyncpg
from kokunen_common.messaging import Delivery, UnitOfWork
from kokunen_common.outbox import OutboxBuffer
from kokunen_contracts.eligibility import QualificationChanged
from kokunen_contracts.envelope import now
from kokunen_contracts.registry import NHI_QUALIFICATION_TRANSFER
from kokunen_contracts.transfer import NhiQualificationTransfer

from .adapters.repository import DispatchRepository, log_entry
from .domain.policy import PolicyBook

JST = ZoneInfo("Asia/Tokyo")
SOURCE = "/kokunen/transfer_dispatch"


def processing_month(at: datetime) -> str:
    """処理月: the month, in Japan time, in which the change was processed."""
    return at.astimezone(JST).strftime("%Y-%m")


async def on_qualification_changed(delivery: Delivery[QualificationChanged], uow: UnitOfWork) -> None:
    """Keep a qualification change for the monthly 移転4 batch (国保年金課)."""
    event = delivery.event
    await DispatchRepository(uow.conn).keep_qualification_change(event, processing_month(event.recorded_at))


@dataclass(frozen=True)
class BatchResult:
    batch_id: str | None
    record_count: int


async def run_monthly_nhi_transfer(conn: asyncpg.Connection, policies: PolicyBook, month: str) -> BatchResult:
    """移転4 for one 処理月: every change of the month not yet sent, as one identifiable batch.

    Re-running for the same month sends nothing already sent; changes that arrived after a batch
    go out in a supplementary batch (``-s2``, ``-s3``…), corrections naming the record they correct.
    """
    policy = policies.get("nhi")
    spec = NHI_QUALIFICATION_TRANSFER
    if policy.topic != spec.name:
        raise ValueError(f"policy nhi names topic {policy.topic}, the registry {spec.name}")
    async with conn.transaction():
        repo = DispatchRepository(conn)
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('dispatch.batch.nhi'))")
        changes = await repo.unsent_changes(policy.id, month)
        if not changes:
            return BatchResult(None, 0)
        earlier = await repo.batches_for(policy.id, month)
        batch_id = f"nhi-{month}" if earlier == 0 else f"nhi-{month}-s{earlier + 1}"
        outbox = OutboxBuffer(schema="dispatch", source=SOURCE)
        items = []
        for change in changes:
            payload = policy.payload(change)  # exactly the policy's seven fields
            event = NhiQualificationTransfer(
                event_id=uuid.uuid4(),
                effective_date=change["lost_on"] or change["acquired_on"],
                recorded_at=now(),
                record_id=change["record_id"],
                batch_id=batch_id,
                corrects_record_id=change["corrects_record_id"],
                **payload,
            )
            outbox.publish(spec, event, traced=False)
            items.append((policy.id, change["record_id"], batch_id, event.event_id, change["corrects_record_id"]))
        await repo.add_batch(batch_id, policy.id, month, len(items))
        await repo.add_items(items)
        await repo.append_log(log_entry(policy, batch_id, len(items), datetime.now(UTC)))
        await outbox.flush(conn)
        return BatchResult(batch_id, len(items))
