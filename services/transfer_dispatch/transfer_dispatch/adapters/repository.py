"""The dispatch slice in PostgreSQL (schema ``dispatch``)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

import asyncpg
from kokunen_common.hash_chain import append_entries, append_entry
from kokunen_common.ids import derived_id
from kokunen_contracts.eligibility import QualificationChanged, QualificationChangeKind

from ..domain.transfer_log import LOG_FIELDS


class TransferItem(NamedTuple):
    """One record sent: which policy, batch and period, what it was about, what it carried (digest)."""

    policy_id: str
    record_id: uuid.UUID | str  # a monthly batch keeps ids as text (asyncpg's COPY takes either)
    batch_id: str
    event_id: uuid.UUID | str
    corrects_record_id: uuid.UUID | None
    period: str
    subject_key: str | None
    revision: int
    payload_digest: bytes
    cancelled: bool
    change_record_id: uuid.UUID | None = None  # 移転4: the qualification change whose fields it carries


ITEM_COLUMNS = TransferItem._fields


class SnapshotSource(NamedTuple):
    """Where a monthly snapshot transfer reads its population: the table, whose key names the subject,
    which rows may ever be sent, and which are in the population now."""

    table: str
    subject: str
    candidates: str
    in_population: str


SNAPSHOT_SOURCES: dict[str, SnapshotSource] = {
    # 移転2: everyone known with a 基礎年金番号; a cancelled (取消) last period takes the person out.
    "child_allowance": SnapshotSource(
        "dispatch.insured_person", "atena_number", "basic_pension_number IS NOT NULL", "NOT withdrawn"
    ),
    # 移転3: 老齢福祉年金受給者 from the imported lists; a recipient whose right ended leaves.
    "long_term_care": SnapshotSource("dispatch.welfare_pension_recipient", "atena_number", "true", "active"),
}

_CHANGES = """SELECT q.*, replaced.lost_on AS replaced_lost_on
               FROM dispatch.qualification_change q
               LEFT JOIN dispatch.qualification_change replaced ON replaced.source_event_id = q.replaces_event_id"""
"""Kept changes, each with the loss date of the change it replaces (a cancellation undoing a loss reopens)."""

_COLUMN = re.compile(r"^[a-z_][a-z0-9_]*$")


KEPT_CHANGE_COLUMNS = (
    "record_id",
    "source_event_id",
    "replaces_event_id",
    "atena_number",
    "basic_pension_number",
    "insured_category",
    "acquired_on",
    "acquisition_reason",
    "lost_on",
    "loss_reason",
    "change_kind",
    "processing_month",
    "period_id",
)


def kept_change_row(event: QualificationChanged, processing_month: str) -> tuple[Any, ...]:
    """A ``qualification_change`` row (``KEPT_CHANGE_COLUMNS``) of an event."""
    return (
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
        event.period_id,
    )


def insured_person_row(event: QualificationChanged) -> tuple[Any, ...]:
    """An ``insured_person`` row of an event: 宛名番号, 基礎年金番号, category, acquired, lost, withdrawn, event."""
    return (
        event.atena_number,
        event.basic_pension_number,
        event.category.value,
        event.acquired_on,
        event.lost_on,
        event.kind is QualificationChangeKind.CANCELLED,
        event.event_id,
    )


def latest_per_person(rows: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Each person's rows applied in order, as successive upserts would: the last row, with the last 基礎年金番号
    any of them carried (an upsert keeps the stored one when the new row has none)."""
    latest: dict[str, tuple[Any, ...]] = {}
    for row in rows:
        earlier = latest.get(row[0])
        number = row[1] if row[1] is not None or earlier is None else earlier[1]
        latest[row[0]] = (row[0], number, *row[2:])
    return list(latest.values())


class DispatchRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def keep_qualification_change(self, event: QualificationChanged, processing_month: str) -> bool:
        """Keep what the transfers need of a qualification change; False if already kept. Its ``arrival``
        number is drawn here: per person, the order eligibility published the changes."""
        inserted = await self.conn.fetchval(
            f"""INSERT INTO dispatch.qualification_change ({", ".join(KEPT_CHANGE_COLUMNS)})
               VALUES ({", ".join(f"${n}" for n in range(1, len(KEPT_CHANGE_COLUMNS) + 1))})
               ON CONFLICT (source_event_id) DO NOTHING RETURNING 1""",
            *kept_change_row(event, processing_month),
        )
        return bool(inserted)

    async def keep_qualification_changes(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """``keep_qualification_change`` for a batch in one statement; ``arrival`` numbers drawn in the rows'
        order."""
        columns = ", ".join(KEPT_CHANGE_COLUMNS)
        await self.conn.execute(
            f"""INSERT INTO dispatch.qualification_change ({columns})
               SELECT {columns} FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[],
                                            $7::date[], $8::text[], $9::date[], $10::text[], $11::text[], $12::text[],
                                            $13::uuid[])
                   WITH ORDINALITY AS u({columns}, n)
               ORDER BY n
               ON CONFLICT (source_event_id) DO NOTHING""",
            *(list(column) for column in zip(*rows, strict=True)),
        )

    async def keep_insured_person(self, event: QualificationChanged) -> None:
        """The person's latest qualification (events of one person arrive in order: keyed by 宛名番号)."""
        await self.keep_insured_persons([insured_person_row(event)])

    async def keep_insured_persons(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """``keep_insured_person`` for a batch's changes, in their order, in one statement (each person's
        changes folded first: an upsert may touch a row once)."""
        await self.conn.execute(
            """INSERT INTO dispatch.insured_person AS p
                   (atena_number, basic_pension_number, insured_category, acquired_on, lost_on, withdrawn,
                    last_event_id)
               SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::date[], $5::date[], $6::bool[],
                                    $7::uuid[])
               ON CONFLICT (atena_number) DO UPDATE SET
                   basic_pension_number = coalesce(EXCLUDED.basic_pension_number, p.basic_pension_number),
                   insured_category = EXCLUDED.insured_category, acquired_on = EXCLUDED.acquired_on,
                   lost_on = EXCLUDED.lost_on, withdrawn = EXCLUDED.withdrawn,
                   last_event_id = EXCLUDED.last_event_id, updated_at = now()""",
            *(list(column) for column in zip(*latest_per_person(rows), strict=True)),
        )

    async def existing_items(self, policy_id: str, record_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """Which of these records of the policy were sent already."""
        rows = await self.conn.fetch(
            "SELECT record_id FROM dispatch.transfer_item WHERE policy_id = $1 AND record_id = ANY($2::uuid[])",
            policy_id,
            list(record_ids),
        )
        return {r["record_id"] for r in rows}

    async def population(
        self, policy_id: str, fields: tuple[str, ...], *, after: str = "", limit: int | None = None
    ) -> list[asyncpg.Record]:
        """The snapshot source's candidate rows past subject ``after`` (keyset, in subject order, at most
        ``limit``): the subject, whether it is in the population now, the policy's fields — the only columns
        read, so nothing else is even fetched — and a digest of those fields."""
        source = SNAPSHOT_SOURCES[policy_id]
        if not all(_COLUMN.match(f) for f in fields):
            raise ValueError(f"policy {policy_id} has a field that is not a column name")
        columns = ", ".join(fields)
        # The digest of what a record would carry, computed where the rows are (see payload_digest).
        rows: list[asyncpg.Record] = await self.conn.fetch(
            f"SELECT {source.subject} AS subject_key, ({source.in_population}) AS in_population, {columns}, "
            f"decode(md5(ROW({columns})::text), 'hex') AS payload_digest "
            f"FROM {source.table} WHERE ({source.candidates}) AND {source.subject} > $1 "
            f"ORDER BY {source.subject} LIMIT $2",
            after,
            limit,
        )
        return rows

    async def latest_items(
        self, policy_id: str, period: str, *, after: str = "", through: str | None = None
    ) -> dict[str, asyncpg.Record]:
        """For each subject already sent in this period (in the subject range (after, through], when given),
        its latest record. A range, not a list of subjects: it reads the index, whatever the chunk's size."""
        rows = await self.conn.fetch(
            """SELECT DISTINCT ON (subject_key) subject_key, record_id, revision, payload_digest, cancelled
               FROM dispatch.transfer_item
               WHERE policy_id = $1 AND period = $2 AND subject_key > $3 AND ($4::text IS NULL OR subject_key <= $4)
               ORDER BY subject_key, revision DESC""",
            policy_id,
            period,
            after,
            through,
        )
        return {r["subject_key"]: r for r in rows}

    async def welfare_import_seen(self, file_sha256: str) -> bool:
        found = await self.conn.fetchval(
            "SELECT 1 FROM dispatch.welfare_pension_import WHERE file_sha256 = $1", file_sha256
        )
        return bool(found)

    async def import_welfare_recipients(
        self, file_sha256: str, file_name: str, rows: list[tuple[str, str, str, str, bool]]
    ) -> None:
        """Upsert the listed recipients (宛名番号, 証書記号, 証書番号, 支給区分, active)."""
        await self.conn.execute(
            "INSERT INTO dispatch.welfare_pension_import (file_sha256, file_name, row_count) VALUES ($1, $2, $3)",
            file_sha256,
            file_name,
            len(rows),
        )
        await self.conn.executemany(
            """INSERT INTO dispatch.welfare_pension_recipient AS r
                   (atena_number, certificate_symbol, certificate_number, payment_category, active, file_sha256)
               VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT (atena_number) DO UPDATE SET
                   certificate_symbol = EXCLUDED.certificate_symbol,
                   certificate_number = EXCLUDED.certificate_number,
                   payment_category = EXCLUDED.payment_category, active = EXCLUDED.active,
                   file_sha256 = EXCLUDED.file_sha256, updated_at = now()""",
            [(*row, file_sha256) for row in rows],
        )

    async def batches(self) -> list[dict[str, Any]]:
        return [dict(r) for r in await self.conn.fetch("SELECT * FROM dispatch.transfer_batch ORDER BY created_at")]

    async def kept_changes(self, source_event_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
        """Kept changes by their event id, as ``changes_to_batch`` gives them (with the loss date of the change each
        replaces)."""
        rows = await self.conn.fetch(f"{_CHANGES} WHERE q.source_event_id = ANY($1::uuid[])", list(source_event_ids))
        found = {r["source_event_id"]: dict(r) for r in rows}
        missing = [i for i in source_event_ids if i not in found]
        if missing:
            raise LookupError(f"qualification change {missing[0]} is not kept")
        return found

    async def batched_changes(self, policy_id: str, change_record_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """Which of these changes a batch of this policy already took into account."""
        rows = await self.conn.fetch(
            "SELECT change_record_id FROM dispatch.batched_change WHERE policy_id = $1 "
            "AND change_record_id = ANY($2::uuid[])",
            policy_id,
            list(change_record_ids),
        )
        return {r["change_record_id"] for r in rows}

    async def changes_to_batch(self, policy_id: str, processing_month: str) -> list[dict[str, Any]]:
        """Changes of the month no batch of this policy has taken yet, person by person, each person's in the
        order they arrived (the order eligibility published them), with the loss date of the change each
        replaces (a cancellation undoing a loss reopens the period)."""
        rows = await self.conn.fetch(
            f"""{_CHANGES}
               WHERE q.processing_month = $2
                 AND NOT EXISTS (SELECT 1 FROM dispatch.batched_change b
                                 WHERE b.policy_id = $1 AND b.change_record_id = q.record_id)
               ORDER BY q.atena_number, q.arrival""",
            policy_id,
            processing_month,
        )
        return [dict(r) for r in rows]

    async def records_in_force(self, policy_id: str, subjects: list[str]) -> list[dict[str, Any]]:
        """The records of these persons the recipient holds in force (sent, not a withdrawal, named by no later
        record), each with the change whose fields it carried (``held_record_id``: the record's own id)."""
        rows = await self.conn.fetch(
            """SELECT q.*, i.record_id AS held_record_id, NULL::date AS replaced_lost_on
               FROM dispatch.transfer_item i
               JOIN dispatch.qualification_change q ON q.record_id = coalesce(i.change_record_id, i.record_id)
               WHERE i.policy_id = $1 AND i.subject_key = ANY($2::text[]) AND NOT i.cancelled
                 AND NOT EXISTS (SELECT 1 FROM dispatch.transfer_item later
                                 WHERE later.policy_id = $1 AND later.corrects_record_id = i.record_id)
               ORDER BY q.atena_number, q.arrival""",
            policy_id,
            subjects,
        )
        return [dict(r) for r in rows]

    async def mark_batched(self, policy_id: str, batch_id: str | None, change_record_ids: list[uuid.UUID]) -> None:
        """Record that a batch took these changes into account (``None``: they cancelled out, nothing was sent)."""
        await self.conn.execute(
            "INSERT INTO dispatch.batched_change (policy_id, change_record_id, batch_id) "
            "SELECT $1, unnest($2::uuid[]), $3",
            policy_id,
            change_record_ids,
            batch_id,
        )

    async def mark_each_batched(self, policy_id: str, marks: Sequence[tuple[uuid.UUID, str | None]]) -> None:
        """``mark_batched`` for changes each taken by its own batch: (change record id, batch id or ``None``)."""
        if marks:
            await self.conn.execute(
                "INSERT INTO dispatch.batched_change (policy_id, change_record_id, batch_id) "
                "SELECT $1, c, b FROM unnest($2::uuid[], $3::text[]) AS m(c, b)",
                policy_id,
                [change for change, _ in marks],
                [batch for _, batch in marks],
            )

    async def batches_for(self, policy_id: str, period: str) -> int:
        count: int = await self.conn.fetchval(
            "SELECT count(*) FROM dispatch.transfer_batch WHERE policy_id = $1 AND period = $2", policy_id, period
        )
        return count

    async def open_batch(self, policy_id: str, period: str) -> str | None:
        """A batch of this policy and period that a run began and did not complete."""
        found: str | None = await self.conn.fetchval(
            "SELECT batch_id FROM dispatch.transfer_batch WHERE policy_id = $1 AND period = $2 "
            "AND completed_at IS NULL",
            policy_id,
            period,
        )
        return found

    async def begin_batch(self, batch_id: str, policy_id: str, period: str) -> None:
        await self.conn.execute(
            "INSERT INTO dispatch.transfer_batch (batch_id, policy_id, period, record_count, completed_at) "
            "VALUES ($1, $2, $3, 0, NULL)",
            batch_id,
            policy_id,
            period,
        )

    async def complete_batch(self, batch_id: str) -> int:
        """Mark the batch complete with the number of records it holds; returns that number."""
        count: int = await self.conn.fetchval(
            """UPDATE dispatch.transfer_batch b SET completed_at = now(),
                   record_count = (SELECT count(*) FROM dispatch.transfer_item i WHERE i.batch_id = b.batch_id)
               WHERE batch_id = $1 RETURNING record_count""",
            batch_id,
        )
        return count

    async def batch_event_ids(self, batch_id: str) -> list[uuid.UUID]:
        """The event ids of every record a batch holds (for its completion marker)."""
        rows = await self.conn.fetch("SELECT event_id FROM dispatch.transfer_item WHERE batch_id = $1", batch_id)
        return [r["event_id"] for r in rows]

    async def add_batch(self, batch_id: str, policy_id: str, period: str, record_count: int) -> None:
        await self.add_batches([(batch_id, policy_id, period, record_count)])

    async def add_batches(self, batches: Sequence[tuple[str, str, str, int]]) -> None:
        """Completed batches (batch id, policy, period, record count) in one statement."""
        if batches:
            await self.conn.execute(
                "INSERT INTO dispatch.transfer_batch (batch_id, policy_id, period, record_count) "
                "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[])",
                *(list(column) for column in zip(*batches, strict=True)),
            )

    async def add_items(self, items: list[TransferItem]) -> None:
        await self.conn.copy_records_to_table(
            "transfer_item", schema_name="dispatch", columns=ITEM_COLUMNS, records=items
        )

    async def append_log(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Append one 提供・移転の記録 entry, linked to the one before it (serialised by a lock)."""
        return await append_entry(self.conn, "dispatch.transfer_log", entry, LOG_FIELDS)

    async def append_logs(self, entries: Sequence[dict[str, Any]]) -> None:
        """Append entries in order, each linked to the one before it (one lock, one read, one insert)."""
        await append_entries(self.conn, "dispatch.transfer_log", entries, LOG_FIELDS)

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
