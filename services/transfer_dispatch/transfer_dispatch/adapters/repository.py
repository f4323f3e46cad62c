"""The dispatch slice in PostgreSQL (schema ``dispatch``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg
from kokunen_common.ids import derived_id
from kokunen_contracts.eligibility import QualificationChanged

from ..domain.transfer_log import GENESIS, entry_hash


class DispatchRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def keep_qualification_change(self, event: QualificationChanged, processing_month: str) -> bool:
        """Keep what the transfers need of a qualification change; False if already kept."""
        inserted = await self.conn.fetchval(
            """INSERT INTO dispatch.qualification_change
                   (record_id, source_event_id, replaces_event_id, atena_number, basic_pension_number,
                    insured_category, acquired_on, acquisition_reason, lost_on, loss_reason, change_kind,
                    processing_month)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
               ON CONFLICT (source_event_id) DO NOTHING RETURNING 1""",
            derived_id(event.event_id, "transfer-record"),
            event.event_id,
            event.replaces_event_id,
            event.atena_number,
            event.basic_pension_number,
            event.category.value,
            event.acquired_on,
            event.acquisition_reason.value,
            event.lost_on,
            event.loss_reason.value if event.loss_reason else None,
            event.kind.value,
            processing_month,
        )
        return bool(inserted)

    async def unsent_changes(self, policy_id: str, processing_month: str) -> list[dict[str, Any]]:
        """Changes of the month not yet in a batch for this policy, oldest first, each with the record
        it corrects when that record was already sent."""
        rows = await self.conn.fetch(
            """SELECT q.*, earlier_item.record_id AS corrects_record_id
               FROM dispatch.qualification_change q
               LEFT JOIN dispatch.qualification_change earlier ON earlier.source_event_id = q.replaces_event_id
               LEFT JOIN dispatch.transfer_item earlier_item
                      ON earlier_item.record_id = earlier.record_id AND earlier_item.policy_id = $1
               WHERE q.processing_month = $2
                 AND NOT EXISTS (SELECT 1 FROM dispatch.transfer_item t
                                 WHERE t.policy_id = $1 AND t.record_id = q.record_id)
               ORDER BY q.received_at, q.record_id""",
            policy_id,
            processing_month,
        )
        return [dict(r) for r in rows]

    async def batches_for(self, policy_id: str, period: str) -> int:
        count: int = await self.conn.fetchval(
            "SELECT count(*) FROM dispatch.transfer_batch WHERE policy_id = $1 AND period = $2", policy_id, period
        )
        return count

    async def add_batch(self, batch_id: str, policy_id: str, period: str, record_count: int) -> None:
        await self.conn.execute(
            "INSERT INTO dispatch.transfer_batch (batch_id, policy_id, period, record_count) VALUES ($1, $2, $3, $4)",
            batch_id,
            policy_id,
            period,
            record_count,
        )

    async def add_items(self, items: list[tuple[str, uuid.UUID, str, uuid.UUID, uuid.UUID | None]]) -> None:
        await self.conn.copy_records_to_table(
            "transfer_item",
            schema_name="dispatch",
            columns=("policy_id", "record_id", "batch_id", "event_id", "corrects_record_id"),
            records=items,
        )

    async def append_log(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Append one 提供・移転の記録 entry, linked to the one before it (serialised by a lock)."""
        await self.conn.execute("SELECT pg_advisory_xact_lock(hashtext('dispatch.transfer_log'))")
        last = await self.conn.fetchrow("SELECT seq, entry_hash FROM dispatch.transfer_log ORDER BY seq DESC LIMIT 1")
        previous = bytes(last["entry_hash"]) if last else GENESIS
        full = {**entry, "seq": (last["seq"] + 1) if last else 1, "prev_hash": previous}
        full["entry_hash"] = entry_hash(previous, full)
        await self.conn.execute(
            """INSERT INTO dispatch.transfer_log (seq, batch_id, policy_id, recipient, purpose, legal_basis, fields,
                   record_count, logged_at, prev_hash, entry_hash)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)""",
            full["seq"],
            full["batch_id"],
            full["policy_id"],
            full["recipient"],
            full["purpose"],
            full["legal_basis"],
            list(full["fields"]),
            full["record_count"],
            full["logged_at"],
            full["prev_hash"],
            full["entry_hash"],
        )
        return full

    async def log_entries(self) -> list[dict[str, Any]]:
        return [dict(r) for r in await self.conn.fetch("SELECT * FROM dispatch.transfer_log ORDER BY seq")]


def log_entry(policy: Any, batch_id: str, record_count: int, at: datetime) -> dict[str, Any]:
    return {
        "batch_id": batch_id,
        "policy_id": policy.id,
        "recipient": policy.recipient,
        "purpose": policy.purpose,
        "legal_basis": policy.legal_basis,
        "fields": list(policy.fields),
        "record_count": record_count,
        "logged_at": at,
    }
