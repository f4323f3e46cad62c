"""An annual file into an empty income slice (the first year's load) builds the slice's indexes after its rows
(migration 0003): the same slice as a load into a slice that holds figures, and the same indexes as migrated.
On a database of its own, created and migrated here: the shared one is never empty."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from kokunen_common.database_setup import BY_SERVICE, bootstrap, url_for_role
from kokunen_common.platform import migrate_all
from kokunen_testing.platform import Platform, unique_atena
from kokunen_testing.tax_files import record, write_file
from tax_sync.adapters.annual_file import ImportReport, format_line, import_file

pytestmark = pytest.mark.integration

INDEXES = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'tax' AND tablename = 'income_assessment'"
SLICE = """SELECT atena_number, income_year, correction_seq, total_income, superseded_at IS NULL AS current,
                  supersedes_event_id, event_id, source_line
           FROM tax.income_assessment WHERE atena_number = ANY($1::text[]) ORDER BY 1, 2, 3"""


@pytest.fixture
async def empty_database(platform: Platform) -> AsyncIterator[str]:
    """The admin URL of a new database with the tax schema migrated and no figure in it."""
    name = f"kokunen_tax_{uuid.uuid4().hex[:8]}"
    admin = await platform.admin()
    try:
        await admin.execute(f"CREATE DATABASE {name}")
        admin_url = platform.infra.admin_db_url.rsplit("/", 1)[0] + f"/{name}"
        await bootstrap(admin_url, (BY_SERVICE["tax_sync"],))
        await migrate_all(admin_url, ["tax_sync"])
        yield admin_url
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


async def indexes(url: str) -> set[tuple[str, str]]:
    conn = await asyncpg.connect(url)
    try:
        return {(r["indexname"], r["indexdef"]) for r in await conn.fetch(INDEXES)}
    finally:
        await conn.close()


async def load(url: str, path: Path, atenas: list[str]) -> tuple[ImportReport, list[tuple[Any, ...]]]:
    conn = await asyncpg.connect(url)
    try:
        report = await import_file(conn, path)
        return report, [tuple(r) for r in await conn.fetch(SLICE, atenas)]
    finally:
        await conn.close()


async def test_a_file_into_an_empty_slice_gives_the_same_slice_and_the_same_indexes(
    platform: Platform, empty_database: str, tmp_path: Path
) -> None:
    atenas = [unique_atena() for _ in range(3)]
    first, second, third = atenas
    path = write_file(
        tmp_path / "shotoku.csv",
        [
            format_line(record(first, seq=0, total_income=1_000_000)),
            format_line(record(second)),
            format_line(record(first, seq=2, total_income=1_200_000)),  # corrects line 2 in the same file
            format_line(record(first, seq=1, total_income=1_100_000)),  # stale: changes nothing
            format_line(record(second)),  # the same assessment again: once
            format_line(record(third, total_income=-300_000)),
        ],
    )
    migrated = await indexes(empty_database)
    shared_url = platform.settings("tax_sync").database_url.get_secret_value()

    into_empty, empty_slice = await load(url_for_role(empty_database, BY_SERVICE["tax_sync"].app_role), path, atenas)
    # The shared slice holds other tests' figures, or at least this one.
    await load(shared_url, write_file(tmp_path / "one.csv", [format_line(record(unique_atena()))]), [])
    into_shared, shared_slice = await load(shared_url, path, atenas)

    assert into_empty.indexes_built_after
    assert not into_shared.indexes_built_after
    assert (into_empty.result.determined, into_empty.result.corrected, into_empty.result.unchanged) == (3, 1, 2)
    assert into_empty.result == into_shared.result
    assert empty_slice == shared_slice
    assert [(r[0], r[2], r[4]) for r in empty_slice] == sorted(
        [(first, 0, False), (first, 2, True), (second, 0, True), (third, 0, True)]
    )
    rebuilt = await indexes(empty_database)
    assert rebuilt == migrated
    assert {name for name, _ in rebuilt} == {"income_assessment_pkey", "one_current_assessment", "income_by_file_line"}
