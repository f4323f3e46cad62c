"""Reading eligibility's slice and driving its calendar scheduler in tests."""

from __future__ import annotations

from datetime import date

from eligibility.calendar import run_calendar

from .platform import Platform


async def current_periods(platform: Platform, atena: str) -> list[tuple[object, ...]]:
    """The person's current periods: (資格取得日, 取得事由, 資格喪失日, 喪失事由), in date order."""
    conn = await platform.connect_as("eligibility")
    try:
        rows = await conn.fetch(
            """SELECT acquired_on, acquisition_reason, lost_on, loss_reason FROM eligibility.qualification_version
               WHERE atena_number = $1 AND superseded_at IS NULL ORDER BY acquired_on""",
            atena,
        )
        return [tuple(r) for r in rows]
    finally:
        await conn.close()


async def set_calendar_watermark(platform: Platform, day: date) -> None:
    """Pretend the scheduler has covered the days up to ``day`` (and no further)."""
    admin = await platform.admin()
    try:
        await admin.execute(
            """INSERT INTO eligibility.calendar_watermark (id, scanned_to) VALUES (true, $1)
               ON CONFLICT (id) DO UPDATE SET scanned_to = $1""",
            day,
        )
    finally:
        await admin.close()


async def calendar_through(platform: Platform, day: date) -> None:
    """Run the scheduler up to ``day``, as if that day had come."""
    conn = await platform.connect_as("eligibility")
    try:
        await run_calendar(conn, day)
    finally:
        await conn.close()
