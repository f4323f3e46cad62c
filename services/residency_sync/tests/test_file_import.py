"""The legacy file feed on the real database: full and differential extracts in UTF-8 and in Shift_JIS/CP932,
re-imports that are no-ops, a reject report with line numbers and reasons (never a My Number), and the
reconciliation of a full extract (absent persons reported, not deleted; differing lines reported)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import asyncpg
import pytest
from kokunen_common.outbox import decode_headers
from kokunen_contracts.envelope import check_envelope, header_map
from kokunen_contracts.residency import PersonChanged
from kokunen_testing.platform import Platform, unique_atena
from kokunen_testing.synthetic import SyntheticCity, SyntheticResident, extract_line, write_extract
from residency_sync.adapters.legacy_file import C, FileRejected
from residency_sync.file_import import FileImporter, ImportReport

from .conftest import announced, current, versions

pytestmark = pytest.mark.integration


def city(count: int) -> list[SyntheticResident]:
    """Residents whose 宛名番号 no other test uses (the residents share one database)."""
    base = int(unique_atena()) % 10**9 * 10
    return list(SyntheticCity(seed=base % 1000).residents(count, first_atena=base))


@pytest.fixture(scope="module", autouse=True)
async def _forget_imports(platform: Platform) -> AsyncIterator[None]:
    """File-imported persons are on no topic, so a replay of the slice (tests/test_replay.py, later in the
    session) could not explain them: leave no trace of them, nor of their unpublished person changes."""
    yield
    admin = await platform.admin()
    try:
        async with admin.transaction():
            await admin.execute(
                """CREATE TEMPORARY TABLE imported ON COMMIT DROP AS
                   SELECT DISTINCT atena_number FROM residency.person_version
                   WHERE reason = 'full_extract' OR source_event_id::text IN
                         (SELECT message_key FROM residency.inbox WHERE topic = 'file:residency')"""
            )
            for table, column in (
                ("person", "atena_number"),
                ("person_version", "atena_number"),
                ("parked_cancellation", "atena_number"),
                ("outbox", "message_key"),
            ):
                await admin.execute(f"DELETE FROM residency.{table} WHERE {column} IN (SELECT * FROM imported)")
            await admin.execute("DELETE FROM residency.inbox WHERE topic = 'file:residency'")
            await admin.execute(
                "TRUNCATE residency.import_reject, residency.import_absence, residency.import_difference, "
                "residency.file_import"
            )
    finally:
        await admin.close()


@pytest.fixture
async def conn(platform: Platform) -> AsyncIterator[asyncpg.Connection]:
    connection = await platform.connect_as("residency_sync")
    try:
        yield connection
    finally:
        await connection.close()


async def run(
    platform: Platform, conn: asyncpg.Connection, path: Path, kind: str, *, sessions: int = 2, **kw: object
) -> ImportReport:
    """A full extract as the command runs it, its persons shared by two sessions (``sessions=1``: one)."""
    more = [await platform.connect_as("residency_sync") for _ in range(sessions - 1)]
    try:
        importer = FileImporter(conn, platform.vault(), batch_size=7, more_connections=more)
        return await importer.run(path, kind, **kw)  # type: ignore[arg-type]
    finally:
        for extra in more:
            await extra.close()


@pytest.mark.parametrize(("encoding", "sessions"), [("utf-8", 1), ("cp932", 2)])
async def test_a_full_extract_loads_every_good_line_and_reports_the_bad_ones(
    platform: Platform, conn: asyncpg.Connection, tmp_path: Path, encoding: str, sessions: int
) -> None:
    people = city(30)
    people[3] = SyntheticResident(**{**people[3].__dict__, "name": "髙橋 ①子"})  # CP932 extensions
    lines = [extract_line(r) for r in people]
    bad = {
        32: extract_line(people[0], 宛名番号=unique_atena(), 個人番号="123456789012"),
        33: extract_line(people[0], 宛名番号=unique_atena(), 性別="X"),
        34: extract_line(people[0], 宛名番号=unique_atena(), 生年月日="19850230"),
        35: extract_line(people[0], 宛名番号=unique_atena())[:-3],
        36: extract_line(people[5]),  # the same 宛名番号 again
        37: extract_line(people[0], 宛名番号=unique_atena(), 氏名=""),
    }
    path = write_extract(tmp_path / f"zenken-{encoding}.csv", [*lines, *bad.values()], encoding)

    report = await run(platform, conn, path, "full", sessions=sessions)

    assert report.encoding == encoding  # detected
    assert (report.lines, report.applied, report.rejected) == (36, 30, 6)
    rejects = dict(
        await conn.fetch("SELECT line, reason FROM residency.import_reject WHERE import_id = $1", report.import_id)
    )
    assert sorted(rejects) == sorted(bad)
    assert "個人番号" in rejects[32]
    assert "性別" in rejects[33]
    assert "生年月日" in rejects[34]
    assert "columns" in rejects[35]
    assert "重複" in rejects[36]
    assert "氏名" in rejects[37]
    assert all("123456789012" not in r and people[0].my_number not in r for r in rejects.values())

    vault = platform.vault()
    first = await current(platform, people[3].atena_number)
    assert first is not None
    assert first["reason"] == "full_extract"
    assert first["name"] == "髙橋 ①子"
    assert json.loads(first["current_address"])["ward"] == people[3].ward.name
    assert vault.open(first["my_number_sealed"], people[3].atena_number).reveal() == people[3].my_number
    assert first["person_hash"] == vault.lookup_hash(vault.open(first["my_number_sealed"], people[3].atena_number))
    # Each new person is announced as registered, with the envelope a consumer checks.
    row = await conn.fetchrow(
        "SELECT payload, headers::text AS headers FROM residency.outbox WHERE message_key = $1",
        people[3].atena_number,
    )
    event = PersonChanged.model_validate_json(bytes(row["payload"]))
    assert event.kind.value == "registered"
    assert event.name == "髙橋 ①子"
    assert check_envelope(header_map(decode_headers(row["headers"])), PersonChanged.event_type) == event.event_id
    assert people[3].my_number not in bytes(row["payload"]).decode()

    again = await run(platform, conn, path, "full")
    assert again.already_imported
    assert again.applied == 30
    assert len(await versions(platform, people[3].atena_number)) == 1


async def test_a_later_full_extract_reconciles_absent_and_differing_persons_without_deleting(
    platform: Platform, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    people = city(12)
    first = write_extract(tmp_path / "first.csv", [extract_line(r) for r in people])
    assert (await run(platform, conn, first, "full")).applied == 12
    # The next month's extract, in Shift_JIS: two persons missing, one with another address.
    kept = people[2:]
    lines = [extract_line(r, processed_on=date(2026, 12, 1)) for r in kept]
    lines[0][C["現住所"]] = "埼玉県さいたま市浦和区常盤九丁目1番1号"
    second = write_extract(tmp_path / "second.csv", lines, "cp932")

    report = await run(platform, conn, second, "full", encoding="shift_jis")

    assert report.encoding == "cp932"
    assert (report.applied, report.unchanged, report.differing) == (0, 9, 1)
    rows = await conn.fetch("SELECT atena_number FROM residency.import_absence WHERE import_id = $1", report.import_id)
    absent = {r["atena_number"] for r in rows}
    assert {people[0].atena_number, people[1].atena_number} <= absent
    assert report.absent >= 2
    for gone in people[:2]:
        still = await current(platform, gone.atena_number)
        assert still is not None  # reported, never deleted
        assert still["is_resident"] is True
    differing = await conn.fetchval(
        "SELECT atena_number FROM residency.import_difference WHERE import_id = $1", report.import_id
    )
    assert differing == kept[0].atena_number
    assert len(await versions(platform, kept[0].atena_number)) == 1  # reported, not applied


@pytest.mark.parametrize("encoding", ["utf-8", "cp932"])
async def test_a_differential_extract_applies_each_change_like_the_stream(
    platform: Platform, conn: asyncpg.Connection, tmp_path: Path, encoding: str
) -> None:
    a, b, c = city(3)
    rows = [
        extract_line(a, 異動事由="国内転入", 異動番号=f"D{a.atena_number}-1", 異動日="2026-10-01", 処理日="2026-10-01"),
        extract_line(b, 異動事由="国外転入", 異動番号=f"D{b.atena_number}-1", 異動日="2026-10-01", 処理日="2026-10-01"),
        extract_line(c, 異動事由="転居", 異動番号=f"D{c.atena_number}-1", 異動日="2026-10-02", 処理日="2026-10-02"),
        extract_line(
            a,
            異動事由="死亡",
            異動番号=f"D{a.atena_number}-2",
            異動日="2026-10-20",
            処理日="2026-10-21",
            消除事由="死亡",
            消除日="2026-10-20",
        ),
        extract_line(
            a,
            異動事由="異動の取消し",
            異動番号=f"D{a.atena_number}-3",
            取消対象異動番号=f"D{a.atena_number}-2",
            異動日="2026-10-20",
            処理日="2026-10-22",
        ),
        extract_line(c, 異動事由="瞬間移動", 異動番号=f"D{c.atena_number}-9", 異動日="2026-10-02", 処理日="2026-10-02"),
        extract_line(c, 異動事由="死亡", 異動番号=f"D{c.atena_number}-8", 異動日="2026-10-09", 処理日="2026-10-09"),
        extract_line(c, 異動事由="転居", 異動番号=f"D{c.atena_number}-7", 異動日="2026-10-09", 処理日="2026-10-01"),
    ]
    path = write_extract(tmp_path / f"sabun-{encoding}.csv", rows, encoding)

    report = await run(platform, conn, path, "differential")

    assert report.encoding == encoding
    assert (report.lines, report.applied, report.rejected) == (8, 5, 3)
    rejects = dict(report.rejects)
    assert "異動事由" in rejects[7]
    assert "消除情報" in rejects[8]  # a 死亡 without its 消除情報
    assert "処理日" in rejects[9]  # 異動日 after 処理日 and not a 転出
    assert [e["kind"] for e in await announced(platform, a.atena_number)] == [
        "moved_in_domestic",
        "died",
        "change_cancelled",
    ]
    assert [e["kind"] for e in await announced(platform, b.atena_number)] == ["moved_in_from_abroad"]
    now = await current(platform, a.atena_number)
    assert now is not None
    assert now["is_resident"] is True

    again = await run(platform, conn, path, "differential")
    assert again.already_imported
    assert len(await announced(platform, a.atena_number)) == 3


async def test_a_full_line_equal_to_what_the_stream_stored_is_unchanged(
    platform: Platform, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    """The bulk path builds its JSON in SQL; the stream path through the contract models. They must agree."""
    (r,) = city(1)
    diff = write_extract(
        tmp_path / "d.csv",
        [
            extract_line(
                r,
                異動事由="国外転入",
                異動番号=f"E{r.atena_number}",
                異動日="2026-10-01",
                処理日="2026-10-01",
                世帯主氏名="大宮 太郎",
                転入元住所="Seoul",
                転入元国="KR",
                在留資格="永住者",
            )
        ],
    )
    assert (await run(platform, conn, diff, "differential")).applied == 1
    full = write_extract(
        tmp_path / "f.csv",
        [extract_line(r, 世帯主氏名="大宮 太郎", 転入元住所="Seoul", 転入元国="KR", 在留資格="永住者")],
    )
    report = await run(platform, conn, full, "full")
    assert (report.applied, report.unchanged, report.differing) == (0, 1, 0)


async def test_both_paths_announce_the_relationship_and_the_householder(
    platform: Platform, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    """続柄 and the 世帯主's 宛名番号 (for exemption screening) leave residency the same way from the bulk path
    (JSON built in SQL) and from the stream path (a differential line, through the contract models)."""
    head, streamed, bulk = city(3)
    householder = {"世帯主氏名": "大宮 太郎", "世帯主宛名番号": head.atena_number, "続柄": "妻"}
    diff = write_extract(
        tmp_path / "d.csv",
        [
            extract_line(
                streamed, 異動事由="転居", 異動番号=f"E{streamed.atena_number}", 異動日="2026-10-01", **householder
            )
        ],
    )
    assert (await run(platform, conn, diff, "differential")).applied == 1
    full = write_extract(tmp_path / "f.csv", [extract_line(bulk, **householder)])
    assert (await run(platform, conn, full, "full")).applied == 1
    for person in (streamed, bulk):
        payload = await conn.fetchval(
            "SELECT payload FROM residency.outbox WHERE message_key = $1", person.atena_number
        )
        event = PersonChanged.model_validate_json(bytes(payload))
        assert (event.relationship, event.householder_atena_number) == ("妻", head.atena_number), person


async def test_a_file_in_neither_encoding_is_refused_whole(
    platform: Platform, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    path = tmp_path / "utf16.csv"
    path.write_bytes("宛名番号,氏名\r\n".encode("utf-16"))
    with pytest.raises(FileRejected, match="文字コード"):
        await run(platform, conn, path, "full")


async def test_the_command_line_imports_a_file_and_prints_the_report(platform: Platform, tmp_path: Path) -> None:
    people = city(5)
    path = write_extract(tmp_path / "cli.csv", [extract_line(r) for r in people], "cp932")
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "residency_sync", "import-file", "--kind", "full", str(path)),
        env={**os.environ, **platform.service_env("residency_sync")},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, stderr.decode()[-2000:]
    report = json.loads(stdout)
    assert (report["applied"], report["encoding"]) == (5, "cp932")
