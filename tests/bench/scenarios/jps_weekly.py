"""JPS provision (提供1): the weekly 進達 of 5,000 reports — My Number opened, 600-byte CP932 records,
AES-256-GCM medium, manifest, the printed 受付処理簿 (PDF) and the transfer log — by the
``transfer-dispatch jps-weekly`` command in its own process (its peak RSS is its own).

Baseline, same run, same rows: read the week's reports and persons from PostgreSQL and write them as a plain
CSV file (no sealing, no layout, no PDF), in this process.
"""

from __future__ import annotations

import base64
import csv
import os
import time
import uuid
from datetime import UTC, datetime, timedelta

from harness import BenchContext, Figure, ServiceProcess, scenario
from kokunen_contracts.identifiers import MyNumber
from kokunen_testing.synthetic import SyntheticCity

FULL = 5_000
WEEK = "2035-W02"  # 2035-01-08 … 2035-01-14
MONDAY = datetime(2035, 1, 8, tzinfo=UTC).date()
KINDS = ("qualification_acquisition", "qualification_loss", "exemption_application", "benefit_claim")


async def seed(ctx: BenchContext, count: int) -> None:
    """The week's reports and persons, as the service would have kept them from the topics."""
    vault = ctx.platform.vault()
    reports, persons = [], []
    for n, r in enumerate(SyntheticCity(seed=47).residents(count, first_atena=7_000_000)):
        kind = KINDS[n % len(KINDS)]
        reports.append(
            (
                uuid.uuid4(),
                uuid.uuid4(),
                kind,
                r.atena_number,
                vault.seal(MyNumber(r.my_number), r.atena_number),
                f"{4000 + n // 1_000_000:04d}-{n % 1_000_000:06d}",
                MONDAY + timedelta(days=n % 7),
                "category_1",
                MONDAY - timedelta(days=30) if kind != "exemption_application" else None,
                "moved_in_from_abroad" if kind != "exemption_application" else None,
                MONDAY - timedelta(days=3) if kind == "qualification_loss" else None,
                "moved_abroad" if kind == "qualification_loss" else None,
                "全額免除" if kind == "exemption_application" else None,
                "1150" if kind == "benefit_claim" else None,
            )
        )
        persons.append(
            (
                r.atena_number,
                r.name,
                r.kana,
                r.sex,
                r.birth_date,
                r.postal_code,
                r.address,
                datetime.now(UTC),
                uuid.uuid4(),
            )
        )
    conn = await ctx.db("transfer_dispatch")
    try:
        await conn.copy_records_to_table(
            "jps_report",
            schema_name="dispatch",
            columns=(
                "report_id",
                "source_event_id",
                "report_kind",
                "atena_number",
                "my_number_sealed",
                "basic_pension_number",
                "received_on",
                "insured_category",
                "acquired_on",
                "acquisition_reason",
                "lost_on",
                "loss_reason",
                "exemption_kind",
                "pension_code",
            ),
            records=reports,
        )
        await conn.copy_records_to_table(
            "jps_person",
            schema_name="dispatch",
            columns=(
                "atena_number",
                "name",
                "name_kana",
                "sex",
                "birth_date",
                "postal_code",
                "address",
                "recorded_at",
                "source_event_id",
            ),
            records=persons,
        )
    finally:
        await conn.close()


async def raw_csv(ctx: BenchContext) -> float:
    """Seconds to read the same rows and write them as plain CSV."""
    started = time.perf_counter()
    conn = await ctx.db("transfer_dispatch")
    try:
        rows = await conn.fetch(
            """SELECT r.*, p.name, p.name_kana, p.sex, p.birth_date, p.postal_code, p.address
               FROM dispatch.jps_report r LEFT JOIN dispatch.jps_person p USING (atena_number)
               WHERE r.received_on BETWEEN $1 AND $2 ORDER BY r.received_on, r.report_id""",
            MONDAY,
            MONDAY + timedelta(days=6),
        )
    finally:
        await conn.close()
    with (ctx.workdir / "jps-baseline.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(rows[0].keys())
        writer.writerows(tuple(r.values()) for r in rows)
    return time.perf_counter() - started


@scenario("jps-weekly")
async def jps_weekly(ctx: BenchContext) -> list[Figure]:
    count = ctx.scaled(FULL)
    await seed(ctx, count)
    baseline = await raw_csv(ctx)
    env = {
        "JPS_MEDIUM_KEY": "bench:" + base64.b64encode(os.urandom(32)).decode(),
        "JPS_OUTPUT_DIR": str(ctx.workdir / "jps"),
    }
    startup = ServiceProcess(ctx, "transfer_dispatch", "--help", env=env)
    started = time.perf_counter()
    startup.start().finish(stop=False)
    startup_s = time.perf_counter() - started

    weekly = ServiceProcess(ctx, "transfer_dispatch", "jps-weekly", "--week", WEEK, env=env)
    started = time.perf_counter()
    code = weekly.start().finish(stop=False)
    seconds = time.perf_counter() - started
    if code != 0:
        raise RuntimeError(f"jps-weekly failed ({code}): see {weekly.log}")
    medium = ctx.workdir / "jps" / f"jps-{WEEK}.dat.enc"
    pdf = ctx.workdir / "jps" / f"jps-{WEEK}.pdf"
    return [
        Figure(
            "jps-weekly",
            "weekly 進達: medium + PDF + log",
            count,
            seconds,
            "read rows + plain CSV write",
            baseline,
            weekly.max_rss_mb,
            notes={
                "process_startup_s": round(startup_s, 2),
                "medium_bytes": medium.stat().st_size,
                "pdf_bytes": pdf.stat().st_size,
            },
        ),
        # The same run less the interpreter and import time of a command (measured just before).
        Figure(
            "jps-weekly",
            "… less the process start-up",
            count,
            max(seconds - startup_s, 1e-3),
            "read rows + plain CSV write",
            baseline,
            weekly.max_rss_mb,
        ),
    ]
