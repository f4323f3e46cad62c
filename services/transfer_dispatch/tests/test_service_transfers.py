"""Departmental transfers 移転1–3 and the transfer log on the real broker and database.

移転1 leaves as each change is recorded; 移転2 and 移転3 leave once a month as one identifiable batch, a
rerun sends nothing new, and what changed after a batch goes out as corrections naming the earlier record.
The log verifier finds an edited, a deleted, a reordered and a removed last row in the real table.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from kokunen_common.ids import derived_id
from kokunen_contracts.eligibility import (
    AcquisitionReason,
    InsuredCategory,
    LossReason,
    QualificationChanged,
    QualificationChangeKind,
)
from kokunen_contracts.registry import (
    CHILD_ALLOWANCE_BATCH_COMPLETED,
    CHILD_ALLOWANCE_TRANSFER,
    LONG_TERM_CARE_TRANSFER,
    NHI_BATCH_COMPLETED,
    NHI_QUALIFICATION_TRANSFER,
    QUALIFICATION_CHANGED,
    RESIDENT_REGISTER_TRANSFER,
)
from kokunen_contracts.transfer import TRANSFER_RECORD_METADATA, event_ids_digest
from kokunen_testing.departments import documented_completeness_check, latest_state
from kokunen_testing.factories import JST
from kokunen_testing.platform import Platform, eventually, outbox_events, unique_atena
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from transfer_dispatch import commands
from transfer_dispatch.adapters.repository import DispatchRepository
from transfer_dispatch.app import build
from transfer_dispatch.domain.policy import load_policies
from transfer_dispatch.domain.records import TransferBuilder
from transfer_dispatch.handlers import _monthly_snapshot, processing_month, run_monthly

pytestmark = pytest.mark.integration

BOOK = load_policies()


@pytest.fixture(scope="module")
async def dispatch(platform: Platform) -> AsyncIterator[None]:
    async with build(platform.settings("transfer_dispatch")):
        yield


def pension_number() -> str:
    n = uuid.uuid4().int
    return f"{n % 9000 + 1000:04d}-{n // 10**4 % 10**6:06d}"


def qualification(
    atena: str,
    bpn: str | None,
    kind: QualificationChangeKind = QualificationChangeKind.ACQUIRED,
    *,
    category: InsuredCategory = InsuredCategory.CATEGORY_1,
    lost_on: date | None = None,
    replaces: uuid.UUID | None = None,
) -> QualificationChanged:
    return QualificationChanged(
        event_id=uuid.uuid4(),
        effective_date=lost_on or date(2026, 4, 1),
        recorded_at=datetime.now(JST),
        atena_number=atena,
        kind=kind,
        period_id=uuid.uuid5(uuid.NAMESPACE_OID, atena),
        category=category,
        acquired_on=date(2026, 4, 1),
        acquisition_reason=AcquisitionReason.MOVED_IN_FROM_ABROAD,
        lost_on=lost_on,
        loss_reason=LossReason.MOVED_ABROAD if lost_on else None,
        basic_pension_number=bpn,
        replaces_event_id=replaces,
    )


async def caught_up(platform: Platform) -> bool:
    """The service has applied everything on the qualification topic (backlog of earlier tests included), so
    that no change arrives between two runs of a month."""
    admin = AIOKafkaAdminClient(bootstrap_servers=platform.bootstrap)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets("transfer_dispatch")
    finally:
        await admin.close()
    ends = await platform.end_offsets(QUALIFICATION_CHANGED.name)
    done = {tp.partition: meta.offset for tp, meta in committed.items() if tp.topic == QUALIFICATION_CHANGED.name}
    return all(done.get(p, 0) >= end for p, end in ends.items())


def body(record: Any) -> dict[str, Any]:
    return json.loads(record.value)


async def test_resident_register_gets_each_change_at_once_and_a_correction_names_the_record(
    platform: Platform, dispatch: None
) -> None:
    atena, bpn = unique_atena(), pension_number()
    start = await platform.end_offsets(RESIDENT_REGISTER_TRANSFER.name)
    first = qualification(atena, bpn)
    fixed = qualification(
        atena, bpn, QualificationChangeKind.CORRECTED, lost_on=date(2026, 9, 1), replaces=first.event_id
    )
    await platform.publish(QUALIFICATION_CHANGED, [first])
    without_number = qualification(unique_atena(), None)  # no 基礎年金番号: not in 移転1's population
    await platform.publish(QUALIFICATION_CHANGED, [without_number, fixed])

    def ours(records: list[Any]) -> list[Any]:
        return [r for r in records if body(r)["basic_pension_number"] == bpn]

    sent = ours(await platform.read_from(RESIDENT_REGISTER_TRANSFER.name, start, until=lambda r: len(ours(r)) >= 2))
    assert len(sent) == 2
    assert all(r.key.decode() == bpn for r in sent)  # keyed by the 基礎年金番号
    original, correction = (body(r) for r in sent)
    assert set(original) - TRANSFER_RECORD_METADATA == {
        "basic_pension_number",
        "insured_category",
        "acquired_on",
        "lost_on",
    }
    assert original["lost_on"] is None
    assert correction["corrects_record_id"] == original["record_id"]
    assert correction["lost_on"] == "2026-09-01"
    assert atena not in sent[0].value.decode()  # 宛名番号 is not in 移転1's policy

    conn = await platform.connect_as("transfer_dispatch")
    try:
        logged = await conn.fetch(
            "SELECT * FROM dispatch.transfer_log WHERE batch_id = ANY($1::text[])",
            [original["batch_id"], correction["batch_id"]],
        )
        assert {r["recipient"] for r in logged} == {"市民局 区政推進部"}
        assert {r["record_count"] for r in logged} == {1}
        assert [r["legal_basis"] for r in logged] == ["住民基本台帳法7条11号"] * 2
    finally:
        await conn.close()


async def test_child_allowance_month_is_one_batch_sent_once_and_later_changes_are_corrections(
    platform: Platform, dispatch: None
) -> None:
    a, b = unique_atena(), unique_atena()
    bpn_a, bpn_b = pension_number(), pension_number()
    a_first, b_first = qualification(a, bpn_a), qualification(b, bpn_b)
    await platform.publish(QUALIFICATION_CHANGED, [a_first, b_first])
    conn = await platform.connect_as("transfer_dispatch")
    try:

        async def kept(atena: str, event_id: uuid.UUID) -> bool:
            found = await conn.fetchval(
                "SELECT 1 FROM dispatch.insured_person WHERE atena_number = $1 AND last_event_id = $2", atena, event_id
            )
            return bool(found)

        await eventually(lambda: kept(a, a_first.event_id))
        await eventually(lambda: kept(b, b_first.event_id))
        await eventually(lambda: caught_up(platform), timeout_s=60)
        month = "2026-10"
        start = await platform.end_offsets(CHILD_ALLOWANCE_TRANSFER.name)
        marker_start = await platform.end_offsets(CHILD_ALLOWANCE_BATCH_COMPLETED.name)
        first = await run_monthly(conn, BOOK, "child_allowance", month)
        assert first.batch_id == "child_allowance-2026-10"
        assert first.record_count >= 2
        assert first.corrections == 0
        again = await run_monthly(conn, BOOK, "child_allowance", month)
        assert again.batch_id is None  # re-running the month publishes nothing new
        assert again.record_count == 0

        # After the batch: A's period is corrected (種別), B's is cancelled (取消).
        a_fixed = qualification(
            a, bpn_a, QualificationChangeKind.CORRECTED, category=InsuredCategory.VOLUNTARY, replaces=a_first.event_id
        )
        b_gone = qualification(b, bpn_b, QualificationChangeKind.CANCELLED, replaces=b_first.event_id)
        await platform.publish(QUALIFICATION_CHANGED, [a_fixed, b_gone])
        await eventually(lambda: kept(a, a_fixed.event_id))
        await eventually(lambda: kept(b, b_gone.event_id))
        supplement = await run_monthly(conn, BOOK, "child_allowance", month)
        assert supplement.batch_id == "child_allowance-2026-10-s2"
        assert supplement.corrections >= 2  # A's correction and B's withdrawal
        assert supplement.cancellations >= 1
        batches = await conn.fetch(
            "SELECT batch_id, record_count FROM dispatch.transfer_batch WHERE policy_id = 'child_allowance' "
            "AND period = $1 ORDER BY created_at",
            month,
        )
        assert [r["batch_id"] for r in batches] == ["child_allowance-2026-10", "child_allowance-2026-10-s2"]
    finally:
        await conn.close()

    def ours(records: list[Any]) -> list[dict[str, Any]]:
        return [body(r) for r in records if body(r)["basic_pension_number"] in (bpn_a, bpn_b)]

    sent = ours(await platform.read_from(CHILD_ALLOWANCE_TRANSFER.name, start, until=lambda r: len(ours(r)) >= 4))
    by_person = {bpn: [s for s in sent if s["basic_pension_number"] == bpn] for bpn in (bpn_a, bpn_b)}
    a_sent, b_sent = by_person[bpn_a], by_person[bpn_b]
    assert [s["insured_category"] for s in a_sent] == ["category_1", "voluntary"]
    assert a_sent[1]["corrects_record_id"] == a_sent[0]["record_id"]
    assert a_sent[1]["batch_id"] == "child_allowance-2026-10-s2"
    assert [s["cancelled"] for s in b_sent] == [False, True]
    assert b_sent[1]["corrects_record_id"] == b_sent[0]["record_id"]
    for s in sent:
        assert set(s) - TRANSFER_RECORD_METADATA == {
            "basic_pension_number",
            "insured_category",
            "acquired_on",
            "lost_on",
        }

    # Each batch ends with its marker; the department's check (as docs/integration.md gives it) finds the batch
    # whole from the records of every partition, in whatever order they were read, and not whole without one.
    batches = {first.batch_id: first.record_count, supplement.batch_id: supplement.record_count}
    markers = [
        body(r)
        for r in await platform.read_from(
            CHILD_ALLOWANCE_BATCH_COMPLETED.name, marker_start, until=lambda r: len(r) >= len(batches)
        )
    ]
    assert {m["batch_id"]: m["record_count"] for m in markers} == batches
    assert {m["processing_month"] for m in markers} == {month}
    everything = [
        body(r)
        for r in await platform.read_from(
            CHILD_ALLOWANCE_TRANSFER.name, start, until=lambda r: len(r) >= sum(batches.values())
        )
    ]
    batch_is_whole = documented_completeness_check()
    for marker in markers:
        held = [r for r in everything if r["batch_id"] == marker["batch_id"]]
        assert marker["event_ids_sha256"] == event_ids_digest(r["event_id"] for r in held)
        assert batch_is_whole(marker, list(reversed(everything)) + held[:1])  # any order, a redelivery
        assert not batch_is_whole(marker, [r for r in everything if r is not held[-1]])


async def test_long_term_care_gets_the_welfare_pension_recipients_monthly(
    platform: Platform, dispatch: None, tmp_path: Path
) -> None:
    a, b = unique_atena(), unique_atena()
    listing = tmp_path / "rofuku-2026-10.csv"
    listing.write_text(
        f"宛名番号,証書記号,証書番号,支給区分,受給状態\n{a},A1,100001,全額支給,受給中\n{b},B2,100002,一部支給停止,受給中\n"
    )
    conn = await platform.connect_as("transfer_dispatch")
    try:
        imported = await commands.import_welfare_pension(conn, listing)
        assert (imported.recipients, imported.already_imported) == (2, False)
        again = await commands.import_welfare_pension(conn, listing)
        assert again.already_imported
        month = "2026-10"
        start = await platform.end_offsets(LONG_TERM_CARE_TRANSFER.name)
        first = await commands.monthly(conn, BOOK, "long_term_care", month)
        assert first.batch_id == "long_term_care-2026-10"
        assert (await commands.monthly(conn, BOOK, "long_term_care", month)).record_count == 0

        ended = tmp_path / "rofuku-2026-10-fix.csv"
        ended.write_text(f"宛名番号,証書記号,証書番号,支給区分,受給状態\n{b},B2,100002,一部支給停止,消滅\n")
        await commands.import_welfare_pension(conn, ended)
        withdrawn = await commands.monthly(conn, BOOK, "long_term_care", month)
        assert withdrawn.batch_id == "long_term_care-2026-10-s2"
        assert withdrawn.cancellations == 1
    finally:
        await conn.close()

    def ours(records: list[Any]) -> list[dict[str, Any]]:
        return [body(r) for r in records if body(r)["atena_number"] in (a, b)]

    sent = ours(await platform.read_from(LONG_TERM_CARE_TRANSFER.name, start, until=lambda r: len(ours(r)) >= 3))
    assert len(sent) == 3
    monthly = [s for s in sent if s["batch_id"] == "long_term_care-2026-10"]
    assert {s["atena_number"]: s["payment_category"] for s in monthly} == {a: "full", b: "partially_suspended"}
    (withdrawal,) = [s for s in sent if s["batch_id"] == "long_term_care-2026-10-s2"]
    assert withdrawal["cancelled"]
    assert withdrawal["atena_number"] == b
    assert withdrawal["corrects_record_id"] == next(s["record_id"] for s in monthly if s["atena_number"] == b)
    for s in sent:
        assert set(s) - TRANSFER_RECORD_METADATA == {
            "atena_number",
            "certificate_symbol",
            "certificate_number",
            "payment_category",
        }


async def test_a_monthly_run_stopped_midway_is_resumed_under_the_same_batch(
    platform: Platform, dispatch: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    await eventually(lambda: caught_up(platform), timeout_s=60)
    conn = await platform.connect_as("transfer_dispatch")
    try:
        population = await conn.fetchval(
            "SELECT count(*) FROM dispatch.insured_person WHERE basic_pension_number IS NOT NULL AND NOT withdrawn"
        )
        assert population >= 2
        builder = TransferBuilder.for_recipient(BOOK, "child_allowance")
        build_many = TransferBuilder.build_many
        calls = 0

        def stops_at_the_second_chunk(self: TransferBuilder, items: Any) -> Any:
            nonlocal calls
            calls += 1
            if calls == 2:
                raise RuntimeError("the run stopped midway")
            return build_many(self, items)

        monkeypatch.setattr(TransferBuilder, "build_many", stops_at_the_second_chunk)
        with pytest.raises(RuntimeError, match="midway"):
            await _monthly_snapshot(conn, builder, "2027-06", chunk=max(1, population // 3))
        monkeypatch.undo()
        written = await conn.fetchval(
            "SELECT count(*) FROM dispatch.transfer_item WHERE batch_id = $1", "child_allowance-2027-06"
        )
        assert 0 < written < population  # the first chunk committed (and may already be on the topic)
        problems = [b.problem for b in (await commands.verify_log(conn)).breaks]
        assert any("child_allowance-2027-06 is incomplete" in p for p in problems)

        resumed = await run_monthly(conn, BOOK, "child_allowance", "2027-06")
        assert resumed.batch_id == "child_allowance-2027-06"  # the same batch, not a supplement
        assert resumed.record_count == population
        subjects = await conn.fetchval(
            "SELECT count(DISTINCT subject_key) FROM dispatch.transfer_item WHERE batch_id = $1", resumed.batch_id
        )
        assert subjects == population  # nobody twice
        (marker,) = await outbox_events(
            platform, "transfer_dispatch", "dispatch", CHILD_ALLOWANCE_BATCH_COMPLETED.name, resumed.batch_id
        )
        ids = await conn.fetch("SELECT event_id FROM dispatch.transfer_item WHERE batch_id = $1", resumed.batch_id)
        assert marker["record_count"] == population  # the chunks of both runs
        assert marker["event_ids_sha256"] == event_ids_digest(r["event_id"] for r in ids)
        assert (await commands.verify_log(conn)).breaks == []
    finally:
        await conn.close()


def verify_cli(platform: Platform) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **platform.service_env("transfer_dispatch"), "PGTZ": "Asia/Tokyo"}
    return subprocess.run(
        [sys.executable, "-m", "transfer_dispatch", "verify-log"], env=env, capture_output=True, text=True, timeout=60
    )


async def test_the_log_verifier_finds_edited_deleted_reordered_and_removed_rows(
    platform: Platform, dispatch: None
) -> None:
    conn = await platform.connect_as("transfer_dispatch")
    admin = await platform.admin()
    try:
        # Three batches of our own so that there are rows in the middle and at the end.
        for month in ("2027-01", "2027-02", "2027-03"):
            await run_monthly(conn, BOOK, "child_allowance", month)
        await conn.execute("SET TIME ZONE 'Asia/Tokyo'")  # the reader's time zone must not matter
        clean = await commands.verify_log(conn)
        assert clean.breaks == []
        assert clean.entries >= 3
        ok = verify_cli(platform)
        assert ok.returncode == 0, ok.stderr
        assert " 0 break(s)" in ok.stdout

        last = await admin.fetchval("SELECT max(seq) FROM dispatch.transfer_log")
        middle = last - 1

        async def tampered(*statements: str) -> list[str]:
            async with admin.transaction():
                await admin.execute("SET LOCAL session_replication_role = replica")  # past the append-only trigger
                for sql in statements:
                    await admin.execute(sql)
            return [b.problem for b in (await commands.verify_log(conn)).breaks]

        row = dict(await admin.fetchrow("SELECT * FROM dispatch.transfer_log WHERE seq = $1", middle))
        columns = ", ".join(row)
        values = ", ".join(f"${i}" for i in range(1, len(row) + 1))

        # Edited: a count changed in place.
        problems = await tampered(
            f"UPDATE dispatch.transfer_log SET record_count = record_count + 1 WHERE seq = {middle}"
        )
        assert any("edited" in p for p in problems)
        failed = verify_cli(platform)
        assert failed.returncode == 1
        assert f"seq {middle}" in failed.stderr
        await tampered(f"UPDATE dispatch.transfer_log SET record_count = record_count - 1 WHERE seq = {middle}")
        assert (await commands.verify_log(conn)).breaks == []

        # Deleted: a row in the middle.
        problems = await tampered(f"DELETE FROM dispatch.transfer_log WHERE seq = {middle}")
        assert any("gap" in p or "link" in p for p in problems)
        async with admin.transaction():
            await admin.execute("SET LOCAL session_replication_role = replica")
            await admin.execute(f"INSERT INTO dispatch.transfer_log ({columns}) VALUES ({values})", *row.values())
        assert (await commands.verify_log(conn)).breaks == []

        # Reordered: two rows swap places.
        swap = (
            f"UPDATE dispatch.transfer_log SET seq = -1 WHERE seq = {middle}",
            f"UPDATE dispatch.transfer_log SET seq = {middle} WHERE seq = {last}",
            f"UPDATE dispatch.transfer_log SET seq = {last} WHERE seq = -1",
        )
        problems = await tampered(*swap)
        assert any("link" in p for p in problems)
        await tampered(*swap)
        assert (await commands.verify_log(conn)).breaks == []

        # Removed last row: no link breaks behind it, but its batch has no record any more.
        last_row = dict(await admin.fetchrow("SELECT * FROM dispatch.transfer_log WHERE seq = $1", last))
        problems = await tampered(f"DELETE FROM dispatch.transfer_log WHERE seq = {last}")
        assert any(last_row["batch_id"] in p and "no log entry" in p for p in problems)
        async with admin.transaction():
            await admin.execute("SET LOCAL session_replication_role = replica")
            await admin.execute(
                f"INSERT INTO dispatch.transfer_log ({', '.join(last_row)}) "
                f"VALUES ({', '.join(f'${i}' for i in range(1, len(last_row) + 1))})",
                *last_row.values(),
            )
        assert (await commands.verify_log(conn)).breaks == []
    finally:
        await admin.close()
        await conn.close()


def _record_id(event_id: uuid.UUID) -> uuid.UUID:
    return derived_id(event_id, "transfer-record")


def death_and_its_cancellation(atena: str, bpn: str, month_day: datetime) -> list[QualificationChanged]:
    """A category-1 insured person's period, their death (資格喪失 the next day, 国民年金法9条1号) and the
    death's cancellation (異動の取消し: the loss no longer holds), as eligibility publishes them. The
    cancellation's event id is chosen so that its record id sorts before the loss's: the order a random id
    gave the monthly batch before it followed the order of arrival."""
    acquired = qualification(atena, bpn).model_copy(update={"recorded_at": month_day})
    died = qualification(atena, bpn, QualificationChangeKind.LOST, lost_on=date(2026, 11, 1), replaces=None).model_copy(
        update={"recorded_at": month_day, "loss_reason": LossReason.DEATH}
    )
    while True:
        cancelled = qualification(atena, bpn, QualificationChangeKind.CANCELLED, replaces=died.event_id).model_copy(
            update={"recorded_at": month_day}
        )
        if _record_id(cancelled.event_id) < _record_id(died.event_id):
            return [acquired, died, cancelled]


@pytest.mark.parametrize("cancellation", ["before the batch", "after the batch"])
async def test_a_death_cancelled_in_the_month_leaves_the_nhi_department_holding_the_person_insured(
    platform: Platform, dispatch: None, cancellation: str
) -> None:
    # A month of its own (処理月 2031-0x), so that no other test's change is in these batches.
    month = "2031-01" if cancellation == "before the batch" else "2031-02"
    at = datetime(int(month[:4]), int(month[5:]), 15, 10, tzinfo=JST)
    persons = {unique_atena(): pension_number() for _ in range(12)}
    changes = {atena: death_and_its_cancellation(atena, bpn, at) for atena, bpn in persons.items()}
    conn = await platform.connect_as("transfer_dispatch")
    try:
        repo = DispatchRepository(conn)

        async def keep(events: list[QualificationChanged]) -> None:
            async with conn.transaction():  # as one consumer batch: one transaction, one now()
                for event in events:
                    await repo.keep_qualification_change(event, processing_month(event.recorded_at))

        if cancellation == "before the batch":
            await keep([e for events in changes.values() for e in events])
            first = await run_monthly(conn, BOOK, "nhi", month)
            assert first.batch_id == f"nhi-{month}"
        else:
            await keep([e for events in changes.values() for e in events[:2]])
            first = await run_monthly(conn, BOOK, "nhi", month)
            assert (first.batch_id, first.record_count) == (f"nhi-{month}", 24)  # each acquisition and death
            await keep([events[2] for events in changes.values()])
            supplement = await run_monthly(conn, BOOK, "nhi", month)
            assert (supplement.batch_id, supplement.cancellations) == (f"nhi-{month}-s2", 12)
        again = await run_monthly(conn, BOOK, "nhi", month)
        assert (again.batch_id, again.record_count) == (None, 0)  # a rerun of the month sends nothing new
    finally:
        await conn.close()

    for atena in persons:
        sent = await outbox_events(platform, "transfer_dispatch", "dispatch", NHI_QUALIFICATION_TRANSFER.name, atena)
        held = latest_state(sent, "atena_number")[atena]
        assert held is not None, f"{atena}: the department holds nothing"
        assert (held["lost_on"], held["loss_reason"]) == (None, None), f"{atena}: the department holds {held}"
        if cancellation == "before the batch":
            assert [s["lost_on"] for s in sent] == [None]  # the death and its cancellation cancel out: neither

    # Every batch of the month, the supplement too, ends with its marker over exactly its records.
    batch_is_whole = documented_completeness_check()
    records = [
        e
        for atena in persons
        for e in await outbox_events(platform, "transfer_dispatch", "dispatch", NHI_QUALIFICATION_TRANSFER.name, atena)
    ]
    batch_ids = sorted({r["batch_id"] for r in records})
    assert batch_ids == (
        [f"nhi-{month}"] if cancellation == "before the batch" else [f"nhi-{month}", f"nhi-{month}-s2"]
    )
    for batch_id in batch_ids:
        (marker,) = await outbox_events(platform, "transfer_dispatch", "dispatch", NHI_BATCH_COMPLETED.name, batch_id)
        assert (marker["processing_month"], marker["record_topic"]) == (month, NHI_QUALIFICATION_TRANSFER.name)
        assert marker["record_count"] == sum(r["batch_id"] == batch_id for r in records)
        assert batch_is_whole(marker, records)


async def test_resident_register_withdraws_every_record_of_a_period_that_no_longer_holds(
    platform: Platform, dispatch: None
) -> None:
    """移転1 takes each change through the same rule as 移転4: a period cancelled after its loss was sent
    (the 転入 itself taken back) withdraws the acquisition's record too, not only the loss's."""
    atena, bpn = unique_atena(), pension_number()
    start = await platform.end_offsets(RESIDENT_REGISTER_TRANSFER.name)
    acquired = qualification(atena, bpn)
    lost = qualification(atena, bpn, QualificationChangeKind.LOST, lost_on=date(2026, 11, 1))
    gone = qualification(
        atena, bpn, QualificationChangeKind.CANCELLED, lost_on=date(2026, 11, 1), replaces=lost.event_id
    )
    for event in (acquired, lost, gone):  # one at a time: each is sent as it is recorded
        await platform.publish(QUALIFICATION_CHANGED, [event])

    def ours(records: list[Any]) -> list[dict[str, Any]]:
        return [body(r) for r in records if body(r)["basic_pension_number"] == bpn]

    sent = ours(await platform.read_from(RESIDENT_REGISTER_TRANSFER.name, start, until=lambda r: len(ours(r)) >= 4))
    assert [(s["lost_on"], s["cancelled"]) for s in sent] == [
        (None, False),
        ("2026-11-01", False),
        ("2026-11-01", True),
        ("2026-11-01", True),
    ]
    assert {s["corrects_record_id"] for s in sent[2:]} == {sent[0]["record_id"], sent[1]["record_id"]}
    assert latest_state(sent, "basic_pension_number")[bpn] is None  # the department holds nothing of it


async def test_resident_register_records_sent_before_revision_0005_are_given_their_person_and_change(
    platform: Platform, dispatch: None
) -> None:
    path = (
        Path(__file__).parents[1] / "transfer_dispatch/migrations/versions/0005_resident_register_by_the_same_rule.py"
    )
    spec = importlib.util.spec_from_file_location("migration_0005", path)
    assert spec is not None
    assert spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    atena, bpn = unique_atena(), pension_number()
    event = qualification(atena, bpn)
    own = derived_id(event.event_id, "transfer", "resident_register")
    conn = await platform.connect_as("transfer_dispatch")
    try:
        async with conn.transaction():
            await DispatchRepository(conn).keep_qualification_change(event, "2031-04")
            await conn.execute(
                "INSERT INTO dispatch.transfer_batch (batch_id, policy_id, period, record_count) "
                "VALUES ($1, $2, $3, 1)",
                f"legacy-{own}",
                "resident_register",
                "2031-04-01",
            )
            await conn.execute(  # as 移転1 wrote its items before revision 0005: no person, no change
                "INSERT INTO dispatch.transfer_item (policy_id, record_id, batch_id, event_id) VALUES ($1, $2, $3, $4)",
                "resident_register",
                own,
                f"legacy-{own}",
                uuid.uuid4(),
            )
        settings = platform.settings("transfer_dispatch")
        assert settings.migration_database_url is not None
        url = settings.migration_database_url.get_secret_value().replace("postgresql://", "postgresql+asyncpg://", 1)
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(migration.name_legacy_records)
        finally:
            await engine.dispose()
        named = await conn.fetchrow(
            "SELECT subject_key, change_record_id FROM dispatch.transfer_item WHERE policy_id = $1 AND record_id = $2",
            "resident_register",
            own,
        )
        assert (named["subject_key"], named["change_record_id"]) == (atena, _record_id(event.event_id))
        held = await DispatchRepository(conn).records_in_force("resident_register", [atena])
        assert [r["held_record_id"] for r in held] == [own]
    finally:
        await conn.close()
