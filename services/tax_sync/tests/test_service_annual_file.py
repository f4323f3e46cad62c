"""The annual file on the real database: both encodings, a reject report with line numbers and reasons,
re-import a no-op, corrections from a later file superseding, and the same SQL as the Kafka path."""

from __future__ import annotations

import csv
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from kokunen_common.messaging import _Accepted, decode_record
from kokunen_contracts.registry import INCOME_DETERMINED
from kokunen_contracts.tax import IncomeDetermined
from kokunen_testing.platform import Platform, unique_atena
from kokunen_testing.tax_files import record, write_file
from tax_sync.adapters.annual_file import FileRejected, import_file
from tax_sync.adapters.annual_file import format_line as csv_line
from tax_sync.adapters.repository import determined_event_id
from tax_sync.app import build
from tax_sync.domain.fields import NAMES

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def tax(platform: Platform) -> AsyncIterator[None]:
    """The service running: its file relay publishes what the imports commit."""
    async with build(platform.settings("tax_sync")):
        yield


async def published(platform: Platform, start: dict[int, int], atenas: list[str], count: int) -> list[IncomeDetermined]:
    """The income events published for ``atenas`` after ``start`` (each person's in order)."""
    keys = {a.encode() for a in atenas}
    records = await platform.read_from(
        INCOME_DETERMINED.name, start, until=lambda r: sum(x.key in keys for x in r) >= count, timeout_s=30
    )
    events = []
    for kafka_record in records:
        if kafka_record.key in keys:
            decoded = decode_record(INCOME_DETERMINED, kafka_record)
            assert isinstance(decoded, _Accepted), decoded
            events.append(decoded.delivery.event)
    assert len(events) == count
    return events


def bad(line: str, column: int, value: str) -> str:
    cells = line.split(",")
    cells[column] = value
    return ",".join(cells)


async def run_import(platform: Platform, path: Path) -> Any:
    conn = await platform.connect_as("tax_sync")
    try:
        return await import_file(conn, path)
    finally:
        await conn.close()


async def slice_of(platform: Platform, atenas: list[str]) -> list[tuple[Any, ...]]:
    conn = await platform.connect_as("tax_sync")
    try:
        rows = await conn.fetch(
            """SELECT atena_number, correction_seq, total_income, spouse_deduction, superseded_at IS NULL,
                      source_file IS NOT NULL, source_line
               FROM tax.income_assessment WHERE atena_number = ANY($1::text[])
               ORDER BY atena_number, correction_seq""",
            atenas,
        )
        return [tuple(r) for r in rows]
    finally:
        await conn.close()


@pytest.mark.parametrize("encoding", ["utf-8", "cp932"])
async def test_an_annual_file_is_applied_with_a_reject_report_and_reimport_is_a_no_op(
    platform: Platform, tax: None, tmp_path: Path, encoding: str
) -> None:
    start = await platform.end_offsets(INCOME_DETERMINED.name)
    people = [unique_atena() for _ in range(4)]
    good = [csv_line(record(a, total_income=1_000_000 * (i + 1))) for i, a in enumerate(people)]
    rejected_atenas = [unique_atena() for _ in range(6)]
    template = csv_line(record(rejected_atenas[0]))
    lines = [
        good[0],
        good[1],
        bad(template.replace(rejected_atenas[0], rejected_atenas[1]), 5, "-1"),  # line 4: negative count
        bad(template.replace(rejected_atenas[0], rejected_atenas[2]), 19, "1800000.5"),  # line 5: decimal yen
        bad(template.replace(rejected_atenas[0], rejected_atenas[3]), 2, "1999"),  # line 6: year mismatch
        bad(template, 0, ""),  # line 7: missing 宛名番号
        good[2],
        f'"{rejected_atenas[4]}",2026,2025',  # line 9: malformed (columns missing)
        good[2],  # line 10: the same assessment twice in one file: once
        good[3],
        bad(template.replace(rejected_atenas[0], rejected_atenas[5]), 12, "9"),  # line 12: unknown 区分コード
    ]
    path = write_file(tmp_path / f"shotoku-{encoding}.csv", lines, encoding=encoding)

    report = await run_import(platform, path)
    assert report.file.encoding.removesuffix("-sig") == encoding
    assert (report.lines, report.result.determined, report.result.corrected) == (11, 4, 0)
    assert (report.result.unchanged, report.rejected) == (1, 6)
    with report.reject_report.open(encoding="utf-8") as f:
        rejects = [(int(r["line"]), r["error_class"]) for r in csv.DictReader(f)]
    assert rejects == [
        (4, "negative_count"),
        (5, "non_integer_yen"),
        (6, "unknown_year"),
        (7, "missing_atena"),
        (9, "malformed"),
        (12, "invalid_value"),
    ]
    stored = await slice_of(platform, people + rejected_atenas)
    line_of = dict(zip(people, [2, 3, 8, 11], strict=True))  # the line each came from
    assert stored == sorted(
        (a, 0, 1_000_000 * (i + 1), "general", True, True, line_of[a]) for i, a in enumerate(people)
    )

    events = await published(platform, start, people, 4)
    [figure] = [e for e in events if e.atena_number == people[0]]  # built by SQL, and still the contract
    assert figure.event_id == determined_event_id(people[0], 2025, 0)
    assert (figure.kind.value, figure.total_income, figure.person_verified) == ("determined", 1_000_000, False)

    again = await run_import(platform, path)
    assert again.already_imported
    assert await slice_of(platform, people) == stored


async def test_a_later_file_corrects_and_out_of_order_rows_change_nothing(
    platform: Platform, tax: None, tmp_path: Path
) -> None:
    a, b = unique_atena(), unique_atena()
    start = await platform.end_offsets(INCOME_DETERMINED.name)
    first = write_file(tmp_path / "june.csv", [csv_line(record(a)), csv_line(record(b, seq=2, total_income=2_000_000))])
    await run_import(platform, first)
    later = write_file(
        tmp_path / "september.csv",
        [
            csv_line(record(a, seq=1, total_income=1_234_000, spouse_deduction="elderly")),
            csv_line(record(b, seq=1)),  # older than what we have: stale
            csv_line(record(a, seq=2, total_income=1_111_000)),  # corrects the correction in the same file
        ],
        encoding="cp932",
        header=NAMES,  # English column names are accepted too
    )
    report = await run_import(platform, later)
    assert (report.result.determined, report.result.corrected, report.result.unchanged) == (0, 2, 1)
    assert [r[:5] for r in await slice_of(platform, [a])] == [
        (a, 0, 1_800_000, "general", False),
        (a, 1, 1_234_000, "elderly", False),
        (a, 2, 1_111_000, "general", True),
    ]
    assert [r[:5] for r in await slice_of(platform, [b])] == [(b, 2, 2_000_000, "general", True)]
    events = [e for e in await published(platform, start, [a, b], 4) if e.atena_number == a]
    assert [(e.kind.value, e.correction_seq, e.supersedes_event_id) for e in events] == [
        ("determined", 0, None),
        ("corrected", 1, determined_event_id(a, 2025, 0)),
        ("corrected", 2, determined_event_id(a, 2025, 1)),
    ]
    assert events[1].spouse_deduction.value == "elderly"


async def test_a_file_with_a_wrong_header_is_refused_whole(platform: Platform, tmp_path: Path) -> None:
    a = unique_atena()
    path = write_file(tmp_path / "wrong.csv", [csv_line(record(a))], header=["宛名番号", "所得"])
    with pytest.raises(FileRejected, match="header"):
        await run_import(platform, path)
    assert await slice_of(platform, [a]) == []
    # …and nothing was recorded, so the corrected file can be imported.
    conn = await platform.connect_as("tax_sync")
    try:
        assert not await conn.fetchval("SELECT 1 FROM tax.imported_file WHERE file_name = 'wrong.csv'")
    finally:
        await conn.close()


def test_the_command_line_imports_and_reports(platform: Platform, tmp_path: Path) -> None:
    a = unique_atena()
    path = write_file(tmp_path / "cli.csv", [csv_line(record(a)), bad(csv_line(record(a)), 5, "-2")])
    env = {**platform.service_env("tax_sync"), "LOG_FORMAT": "console"}
    done = subprocess.run(
        [sys.executable, "-m", "tax_sync", "import-file", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "1 determined, 0 corrected, 0 unchanged (duplicate or stale), 1 rejected" in done.stdout
    again = subprocess.run(
        [sys.executable, "-m", "tax_sync", "import-file", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "already imported" in again.stdout
