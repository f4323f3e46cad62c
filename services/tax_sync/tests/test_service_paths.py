"""The two ways in share one SQL path: the set-based apply agrees with the domain's one-at-a-time rule on
random arrivals, both ways publish the same body for the same figure, and the file relay resumes where it
left off after a crash."""

from __future__ import annotations

import asyncio
import random
import uuid
from pathlib import Path
from typing import Any

import pytest
from kokunen_common.messaging import _Accepted, decode_record, idempotent_producer
from kokunen_contracts.registry import INCOME_ASSESSED, INCOME_DETERMINED
from kokunen_testing.factories import income_assessed
from kokunen_testing.platform import Platform, unique_atena
from kokunen_testing.tax_files import record, write_file
from tax_sync.adapters.annual_file import format_line as csv_line
from tax_sync.adapters.annual_file import import_file
from tax_sync.adapters.file_relay import FileRelay
from tax_sync.adapters.repository import apply_staged, ensure_staging, remember_person, stage_rows, staging_row_of
from tax_sync.app import build
from tax_sync.domain import Arrival, Outcome, apply_in_order
from tax_sync.domain.fields import JAPANESE

pytestmark = pytest.mark.integration


async def test_the_set_based_apply_agrees_with_applying_one_at_a_time(platform: Platform) -> None:
    rng = random.Random(20)
    keys = [(unique_atena(), year) for _ in range(12) for year in (2024, 2025)]
    reference: dict[Any, int] = {}
    expected: list[tuple[str, int, int]] = []
    conn = await platform.connect_as("tax_sync")
    try:
        arrival = 0
        for _batch in range(6):
            arrivals = []
            rows = []
            for _ in range(rng.randrange(1, 25)):
                atena, year = rng.choice(keys)
                seq = rng.randrange(6)
                arrival += 1
                arrivals.append(Arrival((atena, year), seq))
                values = income_assessed(atena, year, seq, total_income=arrival).model_dump()
                rows.append(
                    staging_row_of(values, arrival=arrival, source_event_id=values["event_id"], traceparent=None)
                )
            outcomes = apply_in_order(reference, arrivals)
            expected += [
                (a.key[0], a.key[1], a.seq)  # type: ignore[index]
                for a, o in zip(arrivals, outcomes, strict=True)
                if o in (Outcome.DETERMINED, Outcome.CORRECTED)
            ]
            async with conn.transaction():
                await ensure_staging(conn)
                await stage_rows(conn, rows)
                result = await apply_staged(conn)
            assert result.applied == sum(o in (Outcome.DETERMINED, Outcome.CORRECTED) for o in outcomes)
        stored = await conn.fetch(
            "SELECT atena_number, income_year, correction_seq, superseded_at IS NULL AS current "
            "FROM tax.income_assessment WHERE atena_number = ANY($1::text[])",
            sorted({k[0] for k in keys}),
        )
    finally:
        await conn.close()
    assert sorted((r[0], r[1], r[2]) for r in stored) == sorted(expected)
    current = {(r[0], r[1]): r[2] for r in stored if r["current"]}
    assert current == reference


async def test_both_ways_in_publish_the_same_body_for_the_same_figure(platform: Platform, tmp_path: Path) -> None:
    by_kafka, by_file = unique_atena(), unique_atena()
    # 16〜18歳 given (new layout), and not given: by an older producer, and by a file in the older layout.
    unknown_by_kafka, unknown_by_file, by_old_layout = unique_atena(), unique_atena(), unique_atena()
    figures = {
        "total_income": 3_210_000,
        "spouse_deduction": "elderly",
        "single_parent": True,
        "young_dependants": 2,
        "general_dependants": 3,
        "general_dependants_aged_16_to_18": 2,
    }
    unknown = {**figures, "general_dependants_aged_16_to_18": None}
    start = await platform.end_offsets(INCOME_DETERMINED.name)
    async with build(platform.settings("tax_sync")):
        await platform.publish(
            INCOME_ASSESSED,
            [income_assessed(by_kafka, 2025, 1, **figures), income_assessed(unknown_by_kafka, 2025, 1, **unknown)],
        )
        path = write_file(
            tmp_path / "same.csv",
            [csv_line(record(by_file, 2025, 1, **figures)), csv_line(record(unknown_by_file, 2025, 1, **unknown))],
        )
        old_layout = write_file(
            tmp_path / "older-layout.csv",
            [csv_line(record(by_old_layout, 2025, 1, **unknown)).removesuffix(",")],
            header=JAPANESE[:-1],
        )
        conn = await platform.connect_as("tax_sync")
        try:
            await import_file(conn, path)
            assert (await import_file(conn, old_layout)).rejected == 0
        finally:
            await conn.close()
        keys = {a.encode() for a in (by_kafka, by_file, unknown_by_kafka, unknown_by_file, by_old_layout)}
        records = await platform.read_from(
            INCOME_DETERMINED.name, start, until=lambda r: sum(x.key in keys for x in r) >= 5, timeout_s=30
        )
    bodies = {}
    for kafka_record in records:
        if kafka_record.key in keys:
            decoded = decode_record(INCOME_DETERMINED, kafka_record)
            assert isinstance(decoded, _Accepted)
            body = decoded.delivery.event.model_dump(exclude={"event_id", "recorded_at", "atena_number"})
            bodies[kafka_record.key.decode()] = body
    assert bodies[by_kafka] == bodies[by_file]
    assert bodies[by_file]["total_income"] == 3_210_000
    assert bodies[by_file]["general_dependants_aged_16_to_18"] == 2
    assert bodies[unknown_by_kafka] == bodies[unknown_by_file] == bodies[by_old_layout]
    assert bodies[by_old_layout]["general_dependants_aged_16_to_18"] is None
    assert bodies[by_old_layout]["general_dependants"] == 3


async def test_the_file_relay_resumes_after_the_last_acknowledged_batch(platform: Platform, tmp_path: Path) -> None:
    people = [unique_atena() for _ in range(5)]
    path = write_file(tmp_path / "resume.csv", [csv_line(record(a)) for a in people])  # lines 2–6
    conn = await platform.connect_as("tax_sync")
    try:
        report = await import_file(conn, path)
        file_id = await conn.fetchval("SELECT id FROM tax.imported_file WHERE digest = $1", report.file.digest)
        # As if the relay had died after Kafka acknowledged lines up to 4.
        await conn.execute("UPDATE tax.imported_file SET published_through = 4 WHERE id = $1", file_id)
        start = await platform.end_offsets(INCOME_DETERMINED.name)
        producer = idempotent_producer(platform.settings("tax_sync"))
        await producer.start()
        try:
            await conn.execute("SET datestyle = 'ISO, YMD'")
            await FileRelay(service="tax_sync", database_url="", producer=producer, batch_size=1).publish_pending(conn)
        finally:
            await producer.stop()
        state = await conn.fetchrow(
            "SELECT published_through, published_at FROM tax.imported_file WHERE id = $1", file_id
        )
    finally:
        await conn.close()
    assert state["published_through"] == 6
    assert state["published_at"] is not None
    keys = {a.encode() for a in people}
    records = await platform.read_from(INCOME_DETERMINED.name, start, until=lambda r: False, timeout_s=3)
    assert sorted(r.key.decode() for r in records if r.key in keys) == sorted(people[3:])  # lines 5 and 6 only


async def test_staging_survives_a_rolled_back_batch_on_the_same_connection(platform: Platform) -> None:
    atena = unique_atena()
    values = income_assessed(atena).model_dump()
    row = staging_row_of(values, arrival=1, source_event_id=values["event_id"], traceparent=None)
    conn = await platform.connect_as("tax_sync")
    try:
        transaction = conn.transaction()
        await transaction.start()
        await ensure_staging(conn)  # created inside a transaction that fails (as a transient error would)
        await transaction.rollback()
        async with conn.transaction():  # the retry, on the same connection
            await ensure_staging(conn)
            await stage_rows(conn, [row])
            assert (await apply_staged(conn)).determined == 1
    finally:
        await conn.close()


async def test_an_assessment_applied_while_its_person_arrives_on_the_other_topic_ends_verified(
    platform: Platform,
) -> None:
    """The two subscriptions run in concurrent transactions: the person's arrival (``remember_person``) and the
    assessment's apply must not each miss the other's uncommitted row (found by the restore drill)."""
    atena = unique_atena()
    values = income_assessed(atena).model_dump()
    row = staging_row_of(values, arrival=1, source_event_id=values["event_id"], traceparent=None)
    person_side = await platform.connect_as("tax_sync")
    income_side = await platform.connect_as("tax_sync")
    try:
        person = person_side.transaction()
        await person.start()
        await remember_person(person_side, atena, True, uuid.uuid4())  # not committed yet

        async def apply_income() -> None:
            async with income_side.transaction():
                await ensure_staging(income_side)
                await stage_rows(income_side, [row])
                await apply_staged(income_side)

        applying = asyncio.create_task(apply_income())
        await asyncio.sleep(0.5)  # give the apply every chance to run ahead (it must wait for the person)
        await person.commit()
        await asyncio.wait_for(applying, timeout=30)
        verified = await income_side.fetchval(
            "SELECT person_verified FROM tax.income_assessment WHERE atena_number = $1", atena
        )
    finally:
        await person_side.close()
        await income_side.close()
    assert verified is True
