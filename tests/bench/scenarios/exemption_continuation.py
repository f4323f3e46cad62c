"""継続審査 batch: 100,000 persons approved for 全額免除 or 納付猶予 in 2026 who asked for continuation,
screened again for the 年度 from July 2027 on their 2026 income — ``eligibility exemption-continuation`` in its
own process: candidates, persons, qualification histories, households and incomes read set-based, every
application validated and screened by the same rules as the stream path, the continuations, their screenings
and the screened / JPS-report events written in one transaction. Timed until the command ends.

Baseline, same run, same rows: one raw query joining the candidates with their household and their income
(what the batch must read, without any rule applied and nothing written).
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, date, datetime

from eligibility.exemptions.continuation import APPLICATION_COLUMNS
from harness import BenchContext, Figure, ServiceProcess, scenario

FULL = 100_000
YEAR = 2027
FIRST_ATENA = 7_000_000


def _atena(n: int) -> str:
    return f"{FIRST_ATENA + n:010d}"


def _spouse(n: int) -> str:
    return f"{FIRST_ATENA + 5_000_000 + n:010d}"


def _figures(total: int) -> str:
    return json.dumps(
        {
            "general_dependants": 0,
            "elderly_dependants": 0,
            "specified_dependants": 0,
            "young_dependants": 0,
            "disabled_dependants": 0,
            "specially_disabled_dependants": 0,
            "working_student": False,
            "single_parent": False,
            "total_income": total,
            "net_loss": 0,
            "casualty_loss_deduction": 0,
            "medical_expense_deduction": 0,
            "social_insurance_deduction": 0,
            "small_business_mutual_aid_deduction": 0,
            "spouse_special_deduction": 0,
            "spouse_deduction": "none",
            "disability": "none",
            "widow": False,
        }
    )


async def seed(ctx: BenchContext, count: int) -> None:
    """What eligibility's slice holds after a year of applications: every second applicant has a spouse;
    incomes spread so that every tier (and some failures and unknown incomes) occurs."""
    persons, periods, households, incomes, applications, screenings = [], [], [], [], [], []
    for n in range(count):
        atena = _atena(n)
        birth = date(1980 + n % 20, 1 + n % 12, 1 + n % 28)
        persons.append((atena, birth, True, True, "japanese", "JP"))
        periods.append(
            (uuid.uuid4(), atena, "category_1", date(2000 + n % 20, 4, 1), "reached_20", uuid.uuid4(), "acquired")
        )
        households.append((uuid.uuid4(), atena, atena, "世帯主", atena, True, date(2020, 1, 1)))
        if n % 13 != 0:  # an income unknown now and then: never a pass
            incomes.append((uuid.uuid4(), atena, YEAR - 1, 0, _figures((n * 7_919) % 2_000_000)))
        if n % 2 == 0:
            spouse = _spouse(n)
            households.append((uuid.uuid4(), spouse, atena, "妻", atena, True, date(2020, 1, 1)))
            incomes.append((uuid.uuid4(), spouse, YEAR - 1, 0, _figures((n * 104_729) % 1_500_000)))
        application_id = uuid.uuid4()
        kind = "payment_deferral" if n % 5 == 0 else "exemption"
        payload = json.dumps(
            {
                "event_id": str(uuid.uuid4()),
                "effective_date": "2026-07-10",
                "recorded_at": "2026-07-10T10:00:00+09:00",
                "application_id": str(application_id),
                "kind": kind,
                "atena_number": atena,
                "received_on": "2026-07-10",
                "staff_id": "bench",
                "department": "浦和区役所 保険年金課",
                "first_month": "2026-07",
                "last_month": "2027-06",
                "continuation": True,
            }
        )
        applications.append(
            (
                application_id,
                uuid.uuid4(),
                atena,
                kind,
                date(2026, 7, 10),
                "2026-07",
                "2027-06",
                True,
                "screened",
                payload,
                "processed",
            )
        )
        decision = "payment_deferral" if kind == "payment_deferral" else "full_exemption"
        screenings.append((uuid.uuid4(), application_id, uuid.uuid4(), "passed", decision, 2025, "{}"))
    conn = await ctx.db("eligibility")
    try:
        copies = (
            (
                "person",
                ("atena_number", "birth_date", "lives_in_japan", "is_resident", "resident_class", "nationality"),
                persons,
            ),
            (
                "qualification_version",
                (
                    "period_id",
                    "atena_number",
                    "category",
                    "acquired_on",
                    "acquisition_reason",
                    "published_event_id",
                    "change_kind",
                ),
                periods,
            ),
            (
                "household_version",
                (
                    "event_id",
                    "atena_number",
                    "household_number",
                    "relationship",
                    "householder_atena_number",
                    "is_resident",
                    "effective_date",
                ),
                households,
            ),
            ("income", ("event_id", "atena_number", "income_year", "correction_seq", "figures"), incomes),
            (
                "exemption_application",
                (*APPLICATION_COLUMNS, "jps_outcome"),
                applications,
            ),
            (
                "exemption_screening",
                ("event_id", "application_id", "cause_event_id", "outcome", "decision", "income_year", "result"),
                screenings,
            ),
        )
        for table, columns, records in copies:
            await conn.copy_records_to_table(table, schema_name="eligibility", columns=columns, records=records)
        for table, _, _ in copies:
            await conn.execute(f"ANALYZE eligibility.{table}")
    finally:
        await conn.close()


RAW = """
    SELECT a.application_id, a.atena_number, a.payload::text, s.decision, h.household_number, h.relationship,
           i.figures::text
    FROM eligibility.exemption_application a
    JOIN eligibility.exemption_screening s ON s.application_id = a.application_id AND s.superseded_at IS NULL
    LEFT JOIN eligibility.household_version h ON h.atena_number = a.atena_number
    LEFT JOIN eligibility.income i ON i.atena_number = a.atena_number AND i.income_year = $1
    WHERE a.continuation AND a.jps_outcome = 'processed' AND a.first_month = '2026-07'"""


@scenario("exemption-continuation")
async def exemption_continuation(ctx: BenchContext) -> list[Figure]:
    count = ctx.scaled(FULL)
    await seed(ctx, count)
    conn = await ctx.db("eligibility")
    try:
        started = time.perf_counter()
        rows = await conn.fetch(RAW, YEAR - 1)
        baseline = time.perf_counter() - started
    finally:
        await conn.close()
    assert len(rows) >= count, (len(rows), count)

    batch = ServiceProcess(ctx, "eligibility", "exemption-continuation", "--year", str(YEAR))
    started = time.perf_counter()
    code = batch.start().finish(stop=False)
    seconds = time.perf_counter() - started
    if code != 0:
        raise RuntimeError(f"exemption-continuation failed ({code}): see {batch.log}")
    report = json.loads(batch.log.read_text().strip().splitlines()[-1])
    if report["candidates"] != count:
        raise RuntimeError(f"continuation saw {report['candidates']} candidates, seeded {count}")

    rerun = ServiceProcess(ctx, "eligibility", "exemption-continuation", "--year", str(YEAR))
    rerun_started = time.perf_counter()
    rerun.start().finish(stop=False)
    rerun_s = time.perf_counter() - rerun_started
    return [
        Figure(
            "exemption-continuation",
            "継続審査 batch (screen + write + outbox)",
            count,
            seconds,
            "raw query of the same data",
            baseline,
            batch.max_rss_mb,
            target="≤ 60 s for 100,000",
            notes={
                "outcomes": report["outcomes"],
                "decisions": report["decisions"],
                "refusals": report["refusals"],
                "rerun_same_year_s": round(rerun_s, 1),
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
            },
        )
    ]
