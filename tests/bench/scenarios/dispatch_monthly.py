"""移転2 monthly run: 300,000 holders of a 基礎年金番号 sent to 子育て支援課 as one batch — the policy-bound
payloads built and validated, the outbox written with the batch, its items and the transfer log entry, and
the service's relay publishing them — ``transfer-dispatch monthly`` in its own process, the relay in the
running service (``transfer-dispatch run``). Timed until every record is on the topic.

Baseline, same run, same rows, same topic: read the slice's four fields from PostgreSQL and produce as many
messages with a plain idempotent aiokafka producer (no contract, no outbox, no log).
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, date, datetime

from aiokafka import AIOKafkaProducer
from harness import BenchContext, Figure, ServiceProcess, scenario, wait_until
from kokunen_contracts.registry import CHILD_ALLOWANCE_TRANSFER

FULL = 300_000
MONTH = "2036-01"
FIRST_ATENA = 8_000_000
CATEGORIES = ("category_1", "category_1", "category_1", "voluntary", "category_3")


async def seed(ctx: BenchContext, count: int) -> None:
    """The insured as the service keeps them from eligibility's qualification changes."""
    rows = [
        (
            f"{FIRST_ATENA + n:010d}",
            f"{6000 + n // 1_000_000:04d}-{n % 1_000_000:06d}",
            CATEGORIES[n % len(CATEGORIES)],
            date(1990 + n % 30, 1 + n % 12, 1),
            date(2035, 1 + n % 12, 1) if n % 9 == 0 else None,
            False,
            uuid.uuid4(),
        )
        for n in range(count)
    ]
    conn = await ctx.db("transfer_dispatch")
    try:
        await conn.copy_records_to_table(
            "insured_person",
            schema_name="dispatch",
            columns=(
                "atena_number",
                "basic_pension_number",
                "insured_category",
                "acquired_on",
                "lost_on",
                "withdrawn",
                "last_event_id",
            ),
            records=rows,
        )
        await conn.execute("ANALYZE dispatch.insured_person")
    finally:
        await conn.close()


async def topic_total(ctx: BenchContext) -> int:
    ends = await ctx.platform.end_offsets(CHILD_ALLOWANCE_TRANSFER.name)
    return sum(ends.values())


async def raw_baseline(ctx: BenchContext) -> tuple[float, int]:
    """Seconds to read the slice and produce the same number of plain messages; and how many."""
    started = time.perf_counter()
    conn = await ctx.db("transfer_dispatch")
    try:
        rows = await conn.fetch(
            "SELECT basic_pension_number, insured_category, acquired_on, lost_on FROM dispatch.insured_person "
            "WHERE basic_pension_number IS NOT NULL AND NOT withdrawn"
        )
    finally:
        await conn.close()
    producer = AIOKafkaProducer(
        bootstrap_servers=ctx.platform.bootstrap,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        max_batch_size=512 * 1024,
    )
    await producer.start()
    try:
        futures = []
        for row in rows:
            body = json.dumps(dict(row), default=str).encode()
            futures.append(await producer.send(CHILD_ALLOWANCE_TRANSFER.name, body, key=row[0].encode()))
        for future in futures:
            await future
    finally:
        await producer.stop()
    return time.perf_counter() - started, len(rows)


@scenario("dispatch-monthly")
async def dispatch_monthly(ctx: BenchContext) -> list[Figure]:
    count = ctx.scaled(FULL)
    await seed(ctx, count)
    baseline, population = await raw_baseline(ctx)

    relay = ServiceProcess(ctx, "transfer_dispatch", "run", env={"OUTBOX_BATCH_SIZE": "5000"}).start()
    try:
        before = await topic_total(ctx)
        monthly = ServiceProcess(
            ctx, "transfer_dispatch", "monthly", "--recipient", "child_allowance", "--month", MONTH
        )
        started = time.perf_counter()
        code = monthly.start().finish(stop=False)
        batch_s = time.perf_counter() - started
        if code != 0:
            raise RuntimeError(f"monthly failed ({code}): see {monthly.log}")

        async def all_on_the_topic() -> bool:
            return await topic_total(ctx) >= before + population

        await wait_until(all_on_the_topic, timeout_s=600)
        seconds = time.perf_counter() - started

        again = ServiceProcess(ctx, "transfer_dispatch", "monthly", "--recipient", "child_allowance", "--month", MONTH)
        rerun_started = time.perf_counter()
        again.start().finish(stop=False)
        rerun_s = time.perf_counter() - rerun_started
    finally:
        relay.finish()
    return [
        Figure(
            "dispatch-monthly",
            "移転2 monthly batch → topic",
            population,
            seconds,
            "read slice + raw produce",
            baseline,
            monthly.max_rss_mb,
            target="≤ 30 s for 300,000",
            notes={
                "batch_command_s": round(batch_s, 1),
                "relay_rss_mb": round(relay.max_rss_mb or 0, 1),
                "rerun_same_month_s": round(rerun_s, 1),
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
            },
        )
    ]
