"""Residency: a stream of resident-record differences from Kafka through residency_sync.

Service: from the first record to the last change stored in the addressee slice and its person
change published (outbox relayed). Baseline: a plain aiokafka consumer group reading the same records.
"""

from __future__ import annotations

import os
import uuid
from datetime import date, datetime, timedelta, timezone

from harness import BenchContext, Figure, ServiceProcess, raw_consume, scenario, wait_until
from kokunen_contracts.identifiers import MyNumber
from kokunen_contracts.registry import RESIDENT_CHANGED
from kokunen_contracts.residency import (
    Address,
    ChangeReason,
    PersonName,
    ResidentChanged,
    ResidentClass,
    ResidentRecord,
    Sex,
)
from kokunen_testing.synthetic import SyntheticCity

JST = timezone(timedelta(hours=9))
FULL = 100_000


def differences(count: int) -> list[ResidentChanged]:
    """転居 within the city for ``count`` synthetic residents (one change each)."""
    changes = []
    for r in SyntheticCity(seed=7).residents(count, first_atena=5_000_000):
        record = ResidentRecord(
            atena_number=r.atena_number,
            my_number=MyNumber(r.my_number),
            household_number=r.household_number,
            name=PersonName(name=r.name, kana=r.kana),
            birth_date=r.birth_date,
            sex=Sex(r.sex),
            relationship=r.relationship,
            resident_class=ResidentClass.JAPANESE,
            current_address=Address(
                text=r.address,
                postal_code=r.postal_code,
                prefecture="埼玉県",
                municipality="さいたま市",
                ward=r.ward.name,
                local_government_code=r.ward.code,
            ),
            nationality="JP",
        )
        changes.append(
            ResidentChanged(
                event_id=uuid.uuid4(),
                effective_date=date(2026, 11, 2),
                recorded_at=datetime.now(JST),
                change_id=f"B-{r.atena_number}",
                reason=ChangeReason.MOVE_WITHIN_CITY,
                processed_on=date(2026, 11, 2),
                resident=record,
            )
        )
    return changes


@scenario("residency-stream")
async def residency_stream(ctx: BenchContext) -> list[Figure]:
    count = ctx.scaled(FULL)
    await ctx.platform.publish(RESIDENT_CHANGED, differences(count), source="/bench/jumin-kiroku")

    baseline = await raw_consume(ctx.platform.bootstrap, RESIDENT_CHANGED.name, count, group=f"bench-{uuid.uuid4()}")

    conn = await ctx.db("residency_sync")
    try:

        async def stored() -> bool:
            done: int = await conn.fetchval("SELECT count(*) FROM residency.person_version WHERE change_id LIKE 'B-%'")
            return done >= count

        async def published() -> bool:
            pending: int = await conn.fetchval(
                "SELECT count(*) FROM residency.outbox WHERE published_at IS NULL AND topic = $1",
                "residency.person-changed.v1",
            )
            return pending == 0

        async def started() -> bool:
            return bool(
                await conn.fetchval("SELECT 1 FROM residency.person_version WHERE change_id LIKE 'B-%' LIMIT 1")
            )

        service = ServiceProcess(ctx, "residency_sync").start()
        # CPU per event from the first change applied on (the process's start-up and group join left out): a
        # figure the machine's other load inflates far less than the rates.
        first_s = await wait_until(started, interval_s=0.05)
        cpu_first = service.cpu_seconds()
        applied_s = first_s + await wait_until(stored)
        relayed_s = applied_s + await wait_until(published)
        cpu_ms_per_event = (service.cpu_seconds() - cpu_first) * 1000 / count
        service.finish()
    finally:
        await conn.close()
    return [
        Figure(
            "residency-stream",
            "differences applied (slice)",
            count,
            applied_s,
            "raw aiokafka consume",
            baseline,
            service.max_rss_mb,
            target="RSS ≤ 250 MB",
            notes={"first_applied_s": round(first_s, 2), "cpu_ms_per_event": round(cpu_ms_per_event, 3)},
        ),
        Figure(
            "residency-stream",
            "… and person changes published",
            count,
            relayed_s,
            "raw aiokafka consume",
            baseline,
            service.max_rss_mb,
            notes={"cpu_ms_per_event": round(cpu_ms_per_event, 3), "load_average": os.getloadavg()},
        ),
    ]
