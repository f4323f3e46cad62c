"""The database's last guard on 資格 periods (migration 0007): one person's current periods never overlap, whatever
the code above it does; another person's, a superseded version's and an adjacent period are no conflict."""

from __future__ import annotations

import uuid
from datetime import date

import asyncpg
import pytest
from kokunen_testing.platform import Platform, unique_atena

pytestmark = pytest.mark.integration


async def add_version(
    conn: asyncpg.Connection, atena: str, acquired_on: date, lost_on: date | None, *, superseded: bool = False
) -> None:
    await conn.execute(
        """INSERT INTO eligibility.qualification_version
               (period_id, atena_number, category, acquired_on, acquisition_reason, lost_on, loss_reason,
                published_event_id, change_kind, superseded_at)
           VALUES ($1, $2, 'category_1', $3, 'reached_20', $4, $5, $6, $7, CASE WHEN $8 THEN clock_timestamp() END)""",
        uuid.uuid4(),
        atena,
        acquired_on,
        lost_on,
        None if lost_on is None else "moved_abroad",
        uuid.uuid4(),
        "acquired" if lost_on is None else "lost",
        superseded,
    )


async def test_one_persons_current_periods_may_not_overlap(platform: Platform) -> None:
    conn = await platform.connect_as("eligibility")
    person, other = unique_atena(), unique_atena()
    try:
        transaction = conn.transaction()
        await transaction.start()
        try:
            await add_version(conn, person, date(2020, 4, 1), date(2022, 4, 1))
            await add_version(conn, person, date(2022, 4, 1), None)  # from the day the first ends: adjacent
            await add_version(conn, person, date(2021, 1, 1), None, superseded=True)  # replaced: not current
            await add_version(conn, other, date(2021, 1, 1), None)  # someone else's
            # The same digits with a leading zero are another person (the key is one-to-one, not a hash).
            await add_version(conn, "0" + person, date(2021, 1, 1), None)
            with pytest.raises(asyncpg.ExclusionViolationError, match="no_overlapping_periods"):
                async with conn.transaction():
                    await add_version(conn, person, date(2021, 6, 1), date(2021, 7, 1))
        finally:
            await transaction.rollback()
    finally:
        await conn.close()
