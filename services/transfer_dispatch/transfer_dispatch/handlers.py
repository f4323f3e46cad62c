"""Service layer of transfer_dispatch: keep qualification changes, send 移転1 as they happen, and run
the monthly policy-bound batches (移転2–4)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from kokunen_common.ids import derived_id
from kokunen_common.messaging import Delivery, UnitOfWork
from kokunen_common.outbox import OutboxBuffer
from kokunen_common.telemetry import current_context, resumed
from kokunen_contracts.eligibility import QualificationChanged
from kokunen_contracts.envelope import now
from kokunen_contracts.registry import TRANSFER_RECORDED
from opentelemetry.context import Context

from .adapters.repository import (
    SNAPSHOT_SOURCES,
    DispatchRepository,
    TransferItem,
    insured_person_row,
    kept_change_row,
    log_entry,
)
from .domain.changes import KeptChange, RecordInForce, plan_person
from .domain.policy import Frequency, PolicyBook, PolicyError, load_policies
from .domain.records import (
    RecordMeta,
    SentAbout,
    TransferBuilder,
    payload_digest,
    snapshot_record_id,
    transfer_recorded,
)

JST = ZoneInfo("Asia/Tokyo")
SOURCE = "/kokunen/transfer_dispatch"
RESIDENT_REGISTER = "resident_register"  # 移転1
NHI = "nhi"  # 移転4

_POLICIES: PolicyBook | None = None


def policies() -> PolicyBook:
    """The reviewed policy file, read once per process."""
    global _POLICIES
    if _POLICIES is None:
        _POLICIES = load_policies()
    return _POLICIES


def processing_month(at: datetime) -> str:
    """処理月: the month, in Japan time, in which the change was processed."""
    return at.astimezone(JST).strftime("%Y-%m")


def first_day(month: str) -> date:
    year, mon = (int(x) for x in month.split("-"))
    return date(year, mon, 1)


async def on_qualification_changed(delivery: Delivery[QualificationChanged], uow: UnitOfWork) -> None:
    """Keep a qualification change for 移転4, the person's latest state for 移転2, and send 移転1 now (随時)."""
    event = delivery.event
    repo = DispatchRepository(uow.conn)
    await repo.keep_qualification_change(event, processing_month(event.recorded_at))
    await repo.keep_insured_person(event)
    if event.basic_pension_number is not None:
        await send_resident_register_records(repo, uow.outbox, [(event, current_context())])


class QualificationChangesHandler:
    """``eligibility.qualification-changed.v1`` on the stream path, a polled batch at once (issue 12): each change
    is gathered with its trace context; ``finish_batch`` keeps the batch's changes by one statement and each
    person's latest state by one upsert (the rows ``on_qualification_changed`` writes one at a time), then sends
    移転1 for the changes of 基礎年金番号 holders, in arrival order, as ``on_qualification_changed`` does — what
    each sends in its own trace."""

    async def __call__(self, delivery: Delivery[QualificationChanged], uow: UnitOfWork) -> None:
        uow.batch.setdefault("qualification_changes", []).append((delivery.event, current_context()))

    async def finish_batch(self, uow: UnitOfWork) -> None:
        gathered: list[tuple[QualificationChanged, Context]] = uow.batch.pop("qualification_changes", [])
        if not gathered:
            return
        repo = DispatchRepository(uow.conn)
        await repo.keep_qualification_changes(
            [kept_change_row(event, processing_month(event.recorded_at)) for event, _ in gathered]
        )
        await repo.keep_insured_persons([insured_person_row(event) for event, _ in gathered])
        await send_resident_register_records(
            repo, uow.outbox, [(event, context) for event, context in gathered if event.basic_pension_number]
        )


async def send_resident_register_records(
    repo: DispatchRepository, outbox: OutboxBuffer, changes: Sequence[tuple[QualificationChanged, Context]]
) -> None:
    """移転1 (随時): the records each change of a holder of a 基礎年金番号 calls for, sent now as its own logged batch,
    change after change in the order given; what a change sends is published in the change's trace (``context``).

    The same rule as 移転4 (``plan_person``), one change at a time: a correction names the record it corrects,
    a cancellation withdraws what it undoes (nothing, if nothing of it was sent). Record ids derive from the
    change, and which change was taken is kept, so a redelivery or a replay sends nothing twice. The changes'
    kept rows, what was taken or sent already and the persons' records in force are read by one statement each;
    the records in force then follow each change in memory, as the next change's reading would find them.
    """
    if not changes:
        return
    builder = TransferBuilder.for_recipient(policies(), RESIDENT_REGISTER)
    rows = await repo.kept_changes([event.event_id for event, _ in changes])
    own_ids = {event.event_id: derived_id(event.event_id, "transfer", RESIDENT_REGISTER) for event, _ in changes}
    taken = await repo.batched_changes(RESIDENT_REGISTER, [row["record_id"] for row in rows.values()])
    sent = await repo.existing_items(RESIDENT_REGISTER, list(own_ids.values()))
    held: dict[str, list[RecordInForce]] = {}
    for r in await repo.records_in_force(RESIDENT_REGISTER, sorted({event.atena_number for event, _ in changes})):
        held.setdefault(r["atena_number"], []).append(RecordInForce(r["held_record_id"], KeptChange.of(r)))
    batches: list[tuple[str, str, str, int]] = []
    items: list[TransferItem] = []
    marks: list[tuple[uuid.UUID, str | None]] = []
    logs: list[dict[str, Any]] = []
    for event, context in changes:
        row = rows[event.event_id]
        own_id = own_ids[event.event_id]
        if row["record_id"] in taken or own_id in sent:
            continue
        change = replace(KeptChange.of(row), record_id=own_id)  # 移転1's records are named from the change
        in_force = held.setdefault(event.atena_number, [])
        planned = plan_person([change], in_force, builder.policy.fields)
        if not planned:
            marks.append((row["record_id"], None))
            continue  # e.g. a cancellation of a change nothing was sent about: there is nothing to withdraw
        at = now()
        day = at.astimezone(JST).date().isoformat()
        batch_id = f"{RESIDENT_REGISTER}-{day}-{str(own_id)[:8]}"
        theirs: list[TransferItem] = []
        with resumed(context):
            for p in planned:
                payload = builder.payload(p.change.fields)
                record = builder.build(
                    payload,
                    record_id=p.record_id,
                    batch_id=batch_id,
                    effective_date=event.effective_date,
                    recorded_at=at,
                    corrects_record_id=p.corrects_record_id,
                    cancelled=p.cancelled,
                )
                outbox.publish(builder.spec, record)
                theirs.append(
                    TransferItem(
                        RESIDENT_REGISTER,
                        p.record_id,
                        batch_id,
                        record.event_id,
                        p.corrects_record_id,
                        day,
                        event.atena_number,  # never sent (the policy has no 宛名番号): finds the person's records
                        1,
                        payload_digest(payload),
                        p.cancelled,
                        row["record_id"],
                    )
                )
            record_sent(outbox, builder, batch_id, at, [SentAbout(event.atena_number, i.record_id,
                                                                  i.corrects_record_id, i.cancelled)
                                                        for i in theirs], traced=True)  # fmt: skip
        items += theirs
        batches.append((batch_id, RESIDENT_REGISTER, day, len(theirs)))
        marks.append((row["record_id"], batch_id))
        logs.append(log_entry(builder.policy, batch_id, len(theirs), datetime.now(UTC)))
        # What the department now holds of the person: what this change corrected or withdrew is out of force,
        # what it sent (not a withdrawal) is in force, carrying this change (as ``records_in_force`` reads it).
        named = {p.corrects_record_id for p in planned}
        carried = KeptChange.of({**row, "replaced_lost_on": None})
        in_force[:] = [
            *(h for h in in_force if h.record_id not in named),
            *(RecordInForce(p.record_id, carried) for p in planned if not p.cancelled),
        ]
    await repo.add_batches(batches)
    await repo.add_items(items)
    await repo.mark_each_batched(RESIDENT_REGISTER, marks)
    await repo.append_logs(logs)


def record_sent(
    outbox: OutboxBuffer,
    builder: TransferBuilder,
    batch_id: str,
    at: datetime,
    sent: list[SentAbout],
    *,
    traced: bool = False,
) -> None:
    """提供・移転の記録 per person (``dispatch.transfer-recorded.v1``), in the transaction that sends the records:
    queued in the same outbox, so they are written by the same COPY as the batch's records. ``traced``: in the
    current trace (移転1, sent about one change); a monthly batch's are queued as one bulk run."""
    recorded = transfer_recorded(
        builder.policy, sent, batch_id=batch_id, channel=builder.spec.name, at=at, day=at.astimezone(JST).date()
    )
    if not traced:
        outbox.publish_batch(TRANSFER_RECORDED, recorded)
        return
    for event in recorded:
        outbox.publish(TRANSFER_RECORDED, event)


@dataclass(frozen=True)
class BatchResult:
    batch_id: str | None
    record_count: int
    corrections: int = 0
    cancellations: int = 0
    cancelled_out: int = 0  # 移転4: changes taken without a record of their own (see _monthly_changes)


async def run_monthly(conn: asyncpg.Connection, book: PolicyBook, policy_id: str, month: str) -> BatchResult:
    """One monthly transfer for one 処理月 as one identifiable batch (``<policy>-<YYYY-MM>``).

    Re-running a month sends nothing already sent; what changed since (a correction, a withdrawal)
    goes out in a supplementary batch (``-s2``, ``-s3``…) whose records name the record they correct.
    """
    builder = TransferBuilder.for_recipient(book, policy_id)
    if builder.policy.frequency is not Frequency.MONTHLY:
        raise PolicyError(f"policy {policy_id} is {builder.policy.frequency.value}, not a monthly transfer")
    first_day(month)  # a malformed month fails before anything is locked
    if policy_id == NHI:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"dispatch.batch.{policy_id}")
            return await _monthly_changes(conn, builder, month)
    # A snapshot batch commits chunk by chunk: one run of a policy at a time, for the whole run.
    await conn.execute("SELECT pg_advisory_lock(hashtext($1))", f"dispatch.batch.{policy_id}")
    try:
        return await _monthly_snapshot(conn, builder, month)
    finally:
        await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", f"dispatch.batch.{policy_id}")


async def run_monthly_nhi_transfer(conn: asyncpg.Connection, book: PolicyBook, month: str) -> BatchResult:
    """移転4 for one 処理月 (see ``run_monthly``)."""
    return await run_monthly(conn, book, NHI, month)


async def _batch_id(repo: DispatchRepository, policy_id: str, month: str) -> str:
    earlier = await repo.batches_for(policy_id, month)
    return f"{policy_id}-{month}" if earlier == 0 else f"{policy_id}-{month}-s{earlier + 1}"


async def _finish(
    repo: DispatchRepository,
    builder: TransferBuilder,
    batch_id: str,
    month: str,
    outbox: OutboxBuffer,
    items: list[TransferItem],
) -> None:
    await repo.add_batch(batch_id, builder.policy.id, month, len(items))
    await repo.add_items(items)
    await repo.append_log(log_entry(builder.policy, batch_id, len(items), datetime.now(UTC)))
    publish_completion(builder, batch_id, month, outbox, [i.event_id for i in items])
    await outbox.flush(repo.conn)


def publish_completion(
    builder: TransferBuilder, batch_id: str, month: str, outbox: OutboxBuffer, event_ids: Sequence[uuid.UUID | str]
) -> None:
    """The batch-completed marker, after the batch's records and in the transaction that completes it (ADR 0052):
    the department learns the batch is whole only once every record of it is committed to the outbox."""
    marker = builder.completion_marker(batch_id=batch_id, month=month, event_ids=event_ids, recorded_at=now())
    outbox.publish(builder.marker_spec, marker, traced=False)


async def _monthly_changes(conn: asyncpg.Connection, builder: TransferBuilder, month: str) -> BatchResult:
    """移転4: every qualification change processed in the month that no batch has taken yet, each person's in the
    order eligibility published them; what they call for is decided by ``plan_person`` (domain/changes.py)."""
    repo = DispatchRepository(conn)
    policy_id = builder.policy.id
    rows = await repo.changes_to_batch(policy_id, month)
    if not rows:
        return BatchResult(None, 0)
    changes: dict[str, list[KeptChange]] = {}
    for row in rows:  # person by person, each in order of arrival
        changes.setdefault(row["atena_number"], []).append(KeptChange.of(row))
    held: dict[str, list[RecordInForce]] = {}
    for row in await repo.records_in_force(policy_id, list(changes)):
        held.setdefault(row["atena_number"], []).append(RecordInForce(row["held_record_id"], KeptChange.of(row)))
    carried = builder.policy.fields
    planned = [r for atena, theirs in changes.items() for r in plan_person(theirs, held.get(atena, []), carried)]
    taken = [c.record_id for theirs in changes.values() for c in theirs]
    # Changes taken without a record of their own: cancelled or corrected within the batch, or cancelling
    # what the department never held.
    cancelled_out = len(taken) - len({p.change.record_id for p in planned})
    if not planned:
        await repo.mark_batched(policy_id, None, taken)
        return BatchResult(None, 0, cancelled_out=cancelled_out)
    batch_id = await _batch_id(repo, policy_id, month)
    outbox = OutboxBuffer(schema="dispatch", source=SOURCE)
    items: list[TransferItem] = []
    at = now()
    for p in planned:
        source = p.change.fields
        payload = builder.payload(source)  # exactly the policy's seven fields
        record = builder.build(
            payload,
            record_id=p.record_id,
            batch_id=batch_id,
            effective_date=source["lost_on"] or source["acquired_on"],
            recorded_at=at,
            corrects_record_id=p.corrects_record_id,
            cancelled=p.cancelled,
        )
        outbox.publish(builder.spec, record, traced=False)
        items.append(
            TransferItem(
                policy_id,
                record.record_id,
                batch_id,
                record.event_id,
                p.corrects_record_id,
                month,
                source["atena_number"],
                1,
                payload_digest(payload),
                p.cancelled,
                p.change.record_id,
            )
        )
    record_sent(outbox, builder, batch_id, at, [SentAbout(str(i.subject_key), i.record_id, i.corrects_record_id,
                                                           i.cancelled) for i in items])  # fmt: skip
    await _finish(repo, builder, batch_id, month, outbox, items)
    await repo.mark_batched(policy_id, batch_id, taken)
    corrections = sum(p.corrects_record_id is not None for p in planned)
    cancellations = sum(p.cancelled for p in planned)
    return BatchResult(batch_id, len(items), corrections, cancellations, cancelled_out)


SNAPSHOT_CHUNK = 25_000
"""Records written per transaction in a monthly snapshot: the relay publishes a chunk while the next is built."""


async def _monthly_snapshot(
    conn: asyncpg.Connection, builder: TransferBuilder, month: str, chunk: int = SNAPSHOT_CHUNK
) -> BatchResult:
    """移転2, 移転3: the whole population as it stands, once a month; later, only what changed.

    The batch is written in chunks, each with its items and outbox rows in one transaction, and completed
    (record count, transfer-log entry) in a last one. A run that stops midway leaves the batch open; the next
    run of the month resumes it under the same id, sending only what the open batch does not hold yet.
    """
    repo = DispatchRepository(conn)
    policy = builder.policy
    resumed = await repo.open_batch(policy.id, month)
    batch_id = resumed or await _batch_id(repo, policy.id, month)
    begun = resumed is not None
    at = now()
    effective = first_day(month)
    corrections = cancellations = 0
    after = ""
    # A chunk of the population at a time (keyset by subject): memory stays bounded by the chunk, whatever
    # the city's size. A subject changed behind the scan is sent by the month's next run as a correction.
    while rows := await repo.population(policy.id, policy.fields, after=after, limit=chunk):
        sent = await repo.latest_items(policy.id, month, after=after, through=rows[-1]["subject_key"])
        after = rows[-1]["subject_key"]
        chosen, items = _decide_chunk(rows, sent, policy.id, policy.fields, month, batch_id, effective, at)
        if not items:
            continue
        corrections += sum(i.corrects_record_id is not None for i in items)
        cancellations += sum(i.cancelled for i in items)
        outbox = OutboxBuffer(schema="dispatch", source=SOURCE)
        outbox.publish_batch(builder.spec, builder.build_many(chosen))
        # Both snapshot sources are keyed by the 宛名番号 (SNAPSHOT_SOURCES): the subject names the person.
        record_sent(outbox, builder, batch_id, at, [SentAbout(str(i.subject_key), i.record_id, i.corrects_record_id,
                                                              i.cancelled) for i in items])  # fmt: skip
        async with conn.transaction():
            if not begun:
                await repo.begin_batch(batch_id, policy.id, month)
                begun = True
            await repo.add_items(items)
            await outbox.flush(conn)
    if not begun:
        return BatchResult(None, 0)
    async with conn.transaction():
        total = await repo.complete_batch(batch_id)
        await repo.append_log(log_entry(policy, batch_id, total, datetime.now(UTC)))
        outbox = OutboxBuffer(schema="dispatch", source=SOURCE)
        publish_completion(builder, batch_id, month, outbox, await repo.batch_event_ids(batch_id))
        await outbox.flush(conn)
    return BatchResult(batch_id, total, corrections, cancellations)


def _decide_chunk(
    rows: list[Any],
    sent: dict[str, Any],
    policy_id: str,
    fields: tuple[str, ...],
    month: str,
    batch_id: str,
    effective: date,
    at: datetime,
) -> tuple[list[tuple[dict[str, Any], RecordMeta]], list[TransferItem]]:
    """Which subjects of a chunk go out (new, changed, withdrawn) and the records and items they make."""
    chosen: list[tuple[dict[str, Any], RecordMeta]] = []
    items: list[TransferItem] = []
    for row in rows:
        subject: str = row["subject_key"]
        earlier = sent.get(subject)
        in_population: bool = row["in_population"]
        if earlier is None and not in_population:
            continue
        digest: bytes = row["payload_digest"]  # md5 of the policy's fields, computed by PostgreSQL
        if earlier is None:
            revision, corrects, cancelled = 1, None, False
        else:
            if in_population and not earlier["cancelled"] and earlier["payload_digest"] == digest:
                continue  # sent as it stands
            if not in_population and earlier["cancelled"]:
                continue  # already withdrawn
            revision, corrects, cancelled = earlier["revision"] + 1, earlier["record_id"], not in_population
        record_id = snapshot_record_id(policy_id, month, subject, revision)
        meta = RecordMeta(record_id, batch_id, effective, at, corrects, cancelled)
        chosen.append(({f: row[f] for f in fields}, meta))  # exactly the policy's fields: the only columns read
        items.append(TransferItem(policy_id, record_id, batch_id, meta.event_id, corrects, month, subject, revision,
                                  digest, cancelled))  # fmt: skip
    return chosen, items


def snapshot_policies() -> tuple[str, ...]:
    return tuple(SNAPSHOT_SOURCES)


def describe(result: BatchResult) -> dict[str, Any]:
    return {
        "batch": result.batch_id or "(nothing new)",
        "records": result.record_count,
        "corrections": result.corrections,
        "cancellations": result.cancellations,
        "cancelled_out": result.cancelled_out,
    }
