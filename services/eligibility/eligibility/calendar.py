"""The calendar scheduler (暦による事実): who reaches 20 or 60, and which future-dated moves fall due.

It writes ``eligibility.calendar-fact.v1`` events through the outbox; eligibility applies them like any
other event. Each fact's id is derived from (宛名番号, fact, day), and the days already covered are kept
in a watermark, so running it twice, running it late, or replaying the topics changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import asyncpg
from kokunen_common.logs import get_logger
from kokunen_common.outbox import OutboxBuffer
from kokunen_common.service import ServiceRuntime
from kokunen_contracts.eligibility import CalendarFact, CalendarFactKind
from kokunen_contracts.envelope import now
from kokunen_contracts.registry import CALENDAR_FACT

from .adapters.repository import EligibilityRepository
from .domain.age import age_reached_on
from .handlers import JST, fact_id, today_in_japan

log = get_logger(__name__)
FIRST_RUN_LOOKBACK = timedelta(days=1)


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a common year
        return day.replace(year=day.year - years, day=28)


@dataclass(frozen=True)
class CalendarRun:
    since: date
    through: date
    reached_20: int
    reached_60: int
    moves_due: int


async def run_calendar(conn: asyncpg.Connection, through: date) -> CalendarRun:
    """Issue every fact dated after the watermark and up to ``through`` (inclusive); advance the watermark."""
    repo = EligibilityRepository(conn)
    outbox = OutboxBuffer(schema="eligibility", source="/kokunen/eligibility")
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('eligibility.calendar'))")
        since = await repo.scanned_to() or through - FIRST_RUN_LOOKBACK
        counts = {CalendarFactKind.REACHED_20: 0, CalendarFactKind.REACHED_60: 0}
        if since < through:
            for age, fact, insured_only in (
                (20, CalendarFactKind.REACHED_20, False),
                (60, CalendarFactKind.REACHED_60, True),
            ):
                # A window of births a few days wide on each side, narrowed by the exact law (29 Feb, …).
                rows = await repo.born_between(
                    years_before(since, age) - timedelta(days=3),
                    years_before(through, age) + timedelta(days=3),
                    with_open_category_1=insured_only,
                )
                for row in rows:
                    day = age_reached_on(row["birth_date"], age)
                    if since < day <= through:
                        outbox.publish(CALENDAR_FACT, _fact(row["atena_number"], fact, day), traced=False)
                        counts[fact] += 1
        due = await repo.due_moves(through)
        for row in due:
            outbox.publish(
                CALENDAR_FACT,
                _fact(
                    row["atena_number"], CalendarFactKind.MOVE_ABROAD_EFFECTIVE, row["due_on"], row["cause_event_id"]
                ),
                traced=False,
            )
        await outbox.flush(conn, skip_duplicates=True)
        await repo.set_scanned_to(max(since, through))
    return CalendarRun(
        since, through, counts[CalendarFactKind.REACHED_20], counts[CalendarFactKind.REACHED_60], len(due)
    )


def _fact(atena_number: str, fact: CalendarFactKind, day: date, scheduled_by: uuid.UUID | None = None) -> CalendarFact:
    return CalendarFact(
        event_id=fact_id(atena_number, fact, day, scheduled_by),
        effective_date=day,
        recorded_at=now(),
        atena_number=atena_number,
        fact=fact,
        scheduled_by_event_id=scheduled_by,
    )


async def calendar_job(runtime: ServiceRuntime, stop: asyncio.Event) -> None:
    """Background job: cover today at start, then again shortly after each midnight (JST)."""
    while not stop.is_set():
        try:
            async with runtime.pool.acquire() as conn:
                result = await run_calendar(conn, today_in_japan())
            log.info(
                "calendar covered",
                since=str(result.since),
                through=str(result.through),
                reached_20=result.reached_20,
                reached_60=result.reached_60,
                moves_due=result.moves_due,
            )
        except Exception as exc:  # the next round retries; the watermark makes that safe
            log.warning("calendar run failed; will retry", error=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=60)
            continue
        tomorrow = datetime.now(JST).replace(hour=0, minute=5, second=0, microsecond=0) + timedelta(days=1)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=(tomorrow - datetime.now(JST)).total_seconds())
