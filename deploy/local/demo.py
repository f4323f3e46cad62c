"""make demo: the main job end to end on a real Kafka broker and PostgreSQL.

1. starts Kafka (Maven jars) and PostgreSQL (Debian) on free loopback ports — or uses
   ``KAFKA_BOOTSTRAP_SERVERS`` / ``ADMIN_DATABASE_URL`` when both are set — and the OIDC provider (mock-oauth2-server
   from Maven Central) the counter's staff sign in with;
2. prepares the database (roles, schemas, migrations) and the topics;
3. starts every service as its own process;
4. publishes sample resident-record changes, as the upstream 住民記録システム would — including the
   death of a category-1 insured person and one malformed message;
5. shows what each service did: the addressee history, the qualification loss (資格喪失, the day after
   death), the monthly 移転4 transfer to 国保年金課 and its transfer-log row, the dead letter;
   and the counter (窓口): its address, one demo user per role, one inquiry through the real sign-in, the access
   log rows it wrote and their verification (``DEMO_STAY=1 make demo`` keeps everything up for a browser);
6. stops everything.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
import unicodedata
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from kokunen_common.database_setup import BY_SERVICE, url_for_role
from kokunen_common.messaging import publish_events
from kokunen_common.platform import prepare
from kokunen_contracts.counter import FilingKind, FilingSubmitted
from kokunen_contracts.eligibility import AcquisitionReason, InsuredCategory, LossReason
from kokunen_contracts.envelope import cloudevent_headers
from kokunen_contracts.identifiers import my_number_check_digit
from kokunen_contracts.registry import FILING_SUBMITTED, INCOME_ASSESSED, RESIDENT_CHANGED
from kokunen_contracts.residency import (
    Address,
    BecameResident,
    ChangeReason,
    PersonName,
    ProcessingSuspension,
    Removal,
    ResidentChanged,
    ResidentClass,
    ResidentRecord,
    Sex,
)

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent.parent / "tests")]
import localstack  # noqa: E402  (stdlib-only launcher beside this file)
from kokunen_testing.counter_client import sign_in  # noqa: E402

JST = timezone(timedelta(hours=9))
DESIGN_TOKENS = HERE.parent.parent / ".cache" / "design-tokens" / "1.1.9" / "package" / "dist" / "tokens.css"
SERVICES = ("residency_sync", "eligibility", "transfer_dispatch", "tax_sync")


def say(text: str = "") -> None:
    print(text, flush=True)


def heading(text: str) -> None:
    say()
    say(f"━━ {text} " + "━" * max(0, 74 - len(text)))


def width(text: str) -> int:
    """Columns a string takes in a terminal: full-width (Japanese) characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    if not rows:
        say("  (none)")
        return
    cells = [{c: "—" if r.get(c) is None else str(r[c]) for c in columns} for r in rows]
    widths = {c: max(width(c), *(width(r[c]) for r in cells)) for c in columns}
    for row in [{c: c for c in columns}, *cells]:
        say("  " + "  ".join(row[c] + " " * (widths[c] - width(row[c])) for c in columns).rstrip())


def my_number(seed: int) -> str:
    base = f"{seed:011d}"
    return base + str(my_number_check_digit(base))


def saitama(ward: str, line: str, postal: str) -> Address:
    return Address(
        text=f"埼玉県さいたま市{ward}{line}",
        postal_code=postal,
        prefecture="埼玉県",
        municipality="さいたま市",
        ward=ward,
    )


def sample_changes(today: date) -> list[ResidentChanged]:
    """A small day of the resident-record system: who moves, who dies, who is born."""
    month_start = today.replace(day=1)
    taro = ResidentRecord(
        atena_number="1000000011",
        my_number=my_number(31415926535),
        household_number="2000000011",
        name=PersonName(name="大宮 太郎", kana="オオミヤ タロウ"),
        birth_date=date(1988, 9, 14),
        sex=Sex.MALE,
        relationship="世帯主",
        resident_class=ResidentClass.JAPANESE,
        became_resident=BecameResident(reason=ChangeReason.MOVE_IN_FROM_ABROAD, on=date(2024, 4, 1)),
        current_address=saitama("大宮区", "桜木町一丁目7番地5", "330-0854"),
        moved_in_from=Address(text="Rue de Rivoli, Paris", country_code="FR"),
        nationality="JP",
    )
    hanako = ResidentRecord(
        atena_number="1000000022",
        my_number=my_number(27182818284),
        household_number="2000000022",
        name=PersonName(name="浦和 花子", kana="ウラワ ハナコ"),
        birth_date=date(1979, 3, 31),
        sex=Sex.FEMALE,
        relationship="世帯主",
        resident_class=ResidentClass.JAPANESE,
        current_address=saitama("浦和区", "高砂三丁目15番1号", "330-0063"),
        nationality="JP",
    )
    ken = ResidentRecord(
        atena_number="1000000033",
        my_number=my_number(14142135623),
        household_number="2000000033",
        name=PersonName(name="岩槻 健", kana="イワツキ ケン"),
        birth_date=date(1992, 12, 1),
        sex=Sex.MALE,
        relationship="世帯主",
        resident_class=ResidentClass.JAPANESE,
        current_address=saitama("岩槻区", "本町三丁目2番5号", "339-0057"),
        nationality="JP",
    )
    baby = ResidentRecord(
        atena_number="1000000044",
        my_number=my_number(17320508075),
        household_number="2000000022",
        name=PersonName(name="浦和 陽向", kana="ウラワ ヒナタ"),
        birth_date=month_start,
        sex=Sex.MALE,
        relationship="子",
        resident_class=ResidentClass.JAPANESE,
        current_address=hanako.current_address,
        nationality="JP",
    )
    aoi = ResidentRecord(  # under 処理停止 (DV等支援措置): the counter withholds her address
        atena_number="1000000055",
        my_number=my_number(22360679774),
        household_number="2000000055",
        name=PersonName(name="与野 葵", kana="ヨノ アオイ"),
        birth_date=date(1990, 11, 3),
        sex=Sex.FEMALE,
        relationship="世帯主",
        resident_class=ResidentClass.JAPANESE,
        current_address=saitama("中央区", "本町東三丁目5番43号", "338-0003"),
        nationality="JP",
        processing_suspension=ProcessingSuspension(suspended=True, reason="DV等支援措置"),
    )
    died_on = max(month_start, today - timedelta(days=2))

    def change(n: int, reason: ChangeReason, record: ResidentRecord, on: date) -> ResidentChanged:
        return ResidentChanged(
            event_id=uuid.uuid4(),
            effective_date=on,
            recorded_at=datetime.now(JST),
            change_id=f"DEMO-{n:04d}",
            reason=reason,
            processed_on=max(on, today),
            resident=record,
        )

    return [
        change(1, ChangeReason.MOVE_IN_FROM_ABROAD, taro, date(2024, 4, 1)),
        change(2, ChangeReason.DOMESTIC_MOVE_IN, hanako, date(2019, 7, 1)),
        change(3, ChangeReason.DOMESTIC_MOVE_IN, ken, date(2021, 5, 10)),
        change(4, ChangeReason.BIRTH, baby, baby.birth_date),
        change(
            5,
            ChangeReason.MOVE_WITHIN_CITY,
            hanako.model_copy(
                update={
                    "current_address": saitama("南区", "別所七丁目20番1号", "336-0021"),
                    "previous_address": hanako.current_address,
                }
            ),
            month_start,
        ),
        change(
            6,
            ChangeReason.EX_OFFICIO_REMOVAL,
            ken.model_copy(update={"removal": Removal(reason=ChangeReason.EX_OFFICIO_REMOVAL, on=month_start)}),
            month_start,
        ),
        change(8, ChangeReason.DOMESTIC_MOVE_IN, aoi, date(2023, 10, 2)),
        change(
            7,
            ChangeReason.DEATH,
            taro.model_copy(update={"removal": Removal(reason=ChangeReason.DEATH, on=died_on)}),
            died_on,
        ),
    ]


def sample_filings(today: date) -> list[FilingSubmitted]:
    def filing(n: int, atena: str, kind: FilingKind, **fields: Any) -> FilingSubmitted:
        return FilingSubmitted(
            event_id=uuid.uuid4(),
            effective_date=fields.pop("on", today),
            recorded_at=datetime.now(JST),
            filing_id=uuid.UUID(int=n),
            kind=kind,
            atena_number=atena,
            received_on=today,
            staff_id="omiya-0101",
            department="大宮区役所 保険年金課",
            **fields,
        )

    return [
        filing(
            1,
            "1000000011",
            FilingKind.QUALIFICATION_ACQUISITION,
            on=date(2024, 4, 1),
            category=InsuredCategory.CATEGORY_1,
            acquired_on=date(2024, 4, 1),
            acquisition_reason=AcquisitionReason.MOVED_IN_FROM_ABROAD,
            basic_pension_number="1234-567890",
        ),
        filing(
            2,
            "1000000022",
            FilingKind.QUALIFICATION_LOSS,
            on=date(2026, 1, 31),
            lost_on=date(2026, 1, 31),
            loss_reason=LossReason.FILED,
        ),
    ]


def income_figures(atena: str, seq: int, total_income: int, **extra: Any) -> dict[str, Any]:
    """所得情報 of one assessment for income year 2025 (課税年度 2026)."""
    values: dict[str, Any] = {
        "atena_number": atena,
        "tax_year": 2026,
        "income_year": 2025,
        "assessed_on": date(2026, 6, 10) if seq == 0 else date(2026, 9, 18),
        "correction_seq": seq,
        "general_dependants": 1,
        "elderly_dependants": 0,
        "specified_dependants": 0,
        "spouse_deduction": "general",
        "disabled_dependants": 0,
        "specially_disabled_dependants": 0,
        "young_dependants": 1,
        "disability_class": "none",
        "widow_class": "none",
        "working_student": False,
        "single_parent": False,
        "tax_exempt": False,
        "public_pension_income": 0,
        "public_pension_misc_income": 0,
        "total_income": total_income,
        "net_loss": 0,
        "casualty_loss_deduction": 0,
        "medical_expense_deduction": 0,
        "social_insurance_deduction": 270_000,
        "spouse_special_deduction": 0,
        "small_business_mutual_aid_deduction": 0,
    }
    return {**values, **extra}


@contextlib.contextmanager
def servers(run_dir: Path) -> Iterator[tuple[str, str, str]]:
    """Kafka, PostgreSQL and the OIDC provider the counter's staff sign in with."""
    bootstrap, database = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("ADMIN_DATABASE_URL")
    with localstack.start_oidc(run_dir / "oidc") as oidc:
        say(f"OIDC provider (mock-oauth2-server {localstack.oidc_version()}) at {oidc.issuer}")
        if bootstrap and database:
            say(f"using existing servers: Kafka {bootstrap}, PostgreSQL from ADMIN_DATABASE_URL")
            yield bootstrap, database, oidc.issuer
            return
        with (
            localstack.start_kafka(run_dir / "kafka") as kafka,
            localstack.start_postgres(run_dir / "postgres") as pg,
        ):
            say(f"Kafka {kafka.version} on {kafka.bootstrap} (started in {kafka.start_seconds} s)")
            say(f"PostgreSQL {pg.bindir.parent.name} on 127.0.0.1:{pg.port} (started in {pg.start_seconds} s)")
            yield kafka.bootstrap, pg.url, oidc.issuer


def service_env(service: str, bootstrap: str, admin_url: str, keys: dict[str, str]) -> dict[str, str]:
    schema = BY_SERVICE[service]
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "DATABASE_URL": url_for_role(admin_url, schema.app_role),
        "MIGRATION_DATABASE_URL": url_for_role(admin_url, schema.owner_role),
        "OUTBOX_POLL_INTERVAL_S": "0.2",
        "LOG_LEVEL": "INFO",
        **keys,
    }


async def fetch(url: str, query: str, *args: Any) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(url)
    try:
        return [dict(r) for r in await conn.fetch(query, *args)]
    finally:
        await conn.close()


async def wait_for(url: str, query: str, *args: Any, timeout_s: float = 60) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        rows = await fetch(url, query, *args)
        if rows:
            return rows
        await asyncio.sleep(0.3)
    raise RuntimeError(f"timed out waiting for: {query}")


async def run_cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode().strip()


async def run(run_dir: Path) -> None:
    today = datetime.now(JST).date()
    month = today.strftime("%Y-%m")
    keys = {
        "MYNUMBER_KEYS": "demo1:" + base64.b64encode(os.urandom(32)).decode(),
        "MYNUMBER_ACTIVE_KEY_ID": "demo1",
        "MYNUMBER_HASH_KEY": base64.b64encode(os.urandom(32)).decode(),
    }
    heading("1. servers")
    with servers(run_dir) as (bootstrap, admin_url, issuer):
        heading("2. database and topics")
        created = await prepare(admin_url, bootstrap)
        say(f"roles, schemas and migrations ready; topics created: {len(created)}")

        heading("3. services, each its own process")
        logs = run_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        processes: dict[str, asyncio.subprocess.Process] = {}
        try:
            counter_port = localstack.free_port()
            counter_url = f"http://127.0.0.1:{counter_port}"
            counter_env = {
                **service_env("counter", bootstrap, admin_url, keys),
                "COUNTER_HTTP_PORT": str(counter_port),
                "COUNTER_SESSION_SECRET": base64.b64encode(os.urandom(32)).decode(),
                "COUNTER_COOKIE_SECURE": "false",  # plain http on 127.0.0.1 for the walk below; TLS in production
                "COUNTER_DESIGN_TOKENS_CSS": str(DESIGN_TOKENS),
                "OIDC_ISSUER_URL": issuer,
            }
            for service in (*SERVICES, "counter"):
                with (logs / f"{service}.log").open("wb") as out:
                    processes[service] = await asyncio.create_subprocess_exec(
                        sys.executable,
                        "-m",
                        service,
                        "run",
                        env=counter_env if service == "counter" else service_env(service, bootstrap, admin_url, keys),
                        stdout=out,
                        stderr=asyncio.subprocess.STDOUT,
                    )
                say(f"{service:<18} pid {processes[service].pid}   log: {logs / (service + '.log')}")

            heading("4. the resident-record system publishes its changes")
            changes = sample_changes(today)
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
            await producer.start()
            try:
                *before_death, death = changes
                await publish_events(producer, RESIDENT_CHANGED, before_death, source="/jumin-kiroku/demo")
                # 大宮 太郎 files his 資格取得届 at the counter, with his 基礎年金番号, before the death is recorded.
                await wait_for(
                    url_for_role(admin_url, BY_SERVICE["eligibility"].app_role),
                    "SELECT 1 FROM eligibility.qualification_version WHERE atena_number = '1000000011'",
                )
                await publish_events(producer, FILING_SUBMITTED, sample_filings(today), source="/counter/demo")
                await wait_for(
                    url_for_role(admin_url, BY_SERVICE["eligibility"].app_role),
                    "SELECT 1 FROM eligibility.filing WHERE atena_number = '1000000011' AND status <> 'received'",
                )
                await publish_events(producer, RESIDENT_CHANGED, [death], source="/jumin-kiroku/demo")
                broken = changes[-1].model_copy(update={"event_id": uuid.uuid4()})
                await producer.send_and_wait(
                    RESIDENT_CHANGED.name,
                    value=b'{"reason": "death", "resident": {',
                    key=b"1000000099",
                    headers=cloudevent_headers(broken, source="/jumin-kiroku/demo"),
                )
            finally:
                await producer.stop()
            for c in changes:
                say(
                    f"  {c.change_id}  {c.reason.japanese:<6} 異動日 {c.effective_date}"
                    f"  宛名番号 {c.resident.atena_number}  {c.resident.name.name}"
                )
            say("  (and one malformed message, as a broken upstream batch might send)")
            say("  counter: 資格取得届 for 1000000011 with 基礎年金番号 1234-567890; a 資格喪失届 for 1000000022 that")
            say("           names a loss before any acquisition (refused)")

            urls = {s: url_for_role(admin_url, BY_SERVICE[s].app_role) for s in SERVICES}
            await wait_for(
                urls["transfer_dispatch"],
                "SELECT 1 FROM dispatch.qualification_change "
                "WHERE atena_number = '1000000011' AND change_kind = 'lost'",
            )

            heading("5a. residency_sync — addressee history (＜宛名＞, My Number encrypted)")
            rows = await fetch(
                urls["residency_sync"],
                """SELECT change_id, atena_number, reason, effective_date, name, is_resident, lives_in_japan,
                          left(my_number_sealed, 14) || '…' AS my_number_at_rest
                   FROM residency.person_version WHERE change_id LIKE 'DEMO-%' ORDER BY change_id""",
            )
            table(
                rows,
                ["change_id", "atena_number", "reason", "effective_date", "name", "is_resident", "my_number_at_rest"],
            )

            heading("5b. eligibility — qualification (資格情報)")
            rows = await fetch(
                urls["eligibility"],
                """SELECT atena_number, category, acquired_on, acquisition_reason, lost_on, loss_reason,
                          superseded_at IS NOT NULL AS superseded
                   FROM eligibility.qualification_version WHERE atena_number LIKE '10000000%'
                   ORDER BY atena_number, version_id""",
            )
            table(
                rows,
                [
                    "atena_number",
                    "category",
                    "acquired_on",
                    "acquisition_reason",
                    "lost_on",
                    "loss_reason",
                    "superseded",
                ],
            )
            flags = await fetch(
                urls["eligibility"],
                "SELECT atena_number FROM eligibility.person WHERE address_unknown AND atena_number LIKE '10000000%'",
            )
            say(f"  住所不明候補 (職権消除: no loss, flagged for investigation): {[f['atena_number'] for f in flags]}")
            outcomes = await fetch(
                urls["eligibility"],
                """SELECT atena_number, kind, status, coalesce(rejection, '') AS rejection FROM eligibility.filing
                   WHERE atena_number LIKE '10000000%' ORDER BY recorded_at""",
            )
            say("  届出の処理結果 (filing outcomes for the counter):")
            table(outcomes, ["atena_number", "kind", "status", "rejection"])
            died = next(c for c in changes if c.reason is ChangeReason.DEATH)
            lost_on = died.effective_date + timedelta(days=1)
            say(f"  死亡 {died.effective_date} → 資格喪失日 {lost_on} (国民年金法9条1号: the day after death)")

            heading(f"5c. transfer_dispatch — monthly 移転4 to 国保年金課 for {month}")
            dispatch_env = service_env("transfer_dispatch", bootstrap, admin_url, keys)
            code, output = await run_cli(dispatch_env, "-m", "transfer_dispatch", "monthly-nhi", "--month", month)
            if code != 0:
                raise RuntimeError(f"monthly-nhi failed: {output}")
            say("  " + output)
            rows = await fetch(
                urls["transfer_dispatch"],
                """SELECT i.batch_id, q.basic_pension_number, q.atena_number, q.insured_category, q.acquired_on,
                          q.acquisition_reason, q.lost_on, q.loss_reason
                   FROM dispatch.transfer_item i
                   JOIN dispatch.qualification_change q ON q.record_id = coalesce(i.change_record_id, i.record_id)
                   WHERE q.atena_number LIKE '10000000%' ORDER BY q.lost_on NULLS FIRST""",
            )
            table(
                rows,
                [
                    "batch_id",
                    "basic_pension_number",
                    "atena_number",
                    "insured_category",
                    "acquired_on",
                    "acquisition_reason",
                    "lost_on",
                    "loss_reason",
                ],
            )
            say("  (exactly the seven fields of 移転4; no My Number, no name, no address)")
            log_rows = await fetch(
                urls["transfer_dispatch"],
                """SELECT seq, batch_id, recipient, legal_basis, record_count, encode(entry_hash, 'hex') AS hash
                   FROM dispatch.transfer_log ORDER BY seq""",
            )
            for row in log_rows:
                row["hash"] = row["hash"][:16] + "…"
            say("  提供・移転の記録 (transfer log, hash-chained):")
            table(log_rows, ["seq", "batch_id", "recipient", "legal_basis", "record_count", "hash"])
            code, output = await run_cli(dispatch_env, "-m", "transfer_dispatch", "verify-log")
            say(f"  verify-log: {output} (exit {code})")

            heading("5d. dead letters")
            dead = await wait_for(
                urls["residency_sync"],
                """SELECT topic, convert_from(payload, 'UTF8') AS original, headers::text AS headers
                   FROM residency.outbox WHERE topic LIKE '%.dlq' AND message_key = '1000000099'""",
            )
            for row in dead:
                reason = next(base64.b64decode(v).decode() for k, v in json.loads(row["headers"]) if k == "dlq_reason")
                say(f"  → {row['topic']}: {reason}")
                say(f"    original bytes kept: {row['original']!r}")
            heading("5e. transfer_dispatch — weekly 進達 to 日本年金機構 (提供1, the only provision with My Number)")
            week = "{}-W{:02d}".format(*today.isocalendar()[:2])
            jps_env = {
                **dispatch_env,
                "JPS_MEDIUM_KEY": "demo:" + base64.b64encode(os.urandom(32)).decode(),
                "JPS_OUTPUT_DIR": str(run_dir / "jps"),
            }
            await wait_for(urls["transfer_dispatch"], "SELECT 1 FROM dispatch.jps_report LIMIT 1")
            code, output = await run_cli(jps_env, "-m", "transfer_dispatch", "jps-weekly", "--week", week)
            say("  " + output.replace("\n", "\n  "))
            code, output = await run_cli(jps_env, "-m", "transfer_dispatch", "jps-weekly", "--week", week)
            say("  again: " + output)
            pdf = run_dir / "jps" / f"jps-{week}.pdf"
            if pdf.exists():
                pdftotext = await asyncio.create_subprocess_exec(
                    "pdftotext", "-layout", str(pdf), "-", stdout=asyncio.subprocess.PIPE
                )
                listing, _ = await pdftotext.communicate()
                say("  送付書 (the printed list's first page, via pdftotext; no My Number on paper):")
                for text_line in [t for t in listing.decode().splitlines() if t.strip()][:12]:
                    say("    " + text_line.strip())
            heading("5f. tax_sync — resident-tax income (所得情報) for exemption screening")
            from tax_sync.adapters.annual_file import format_line
            from tax_sync.domain.fields import JAPANESE

            tax_env = {**service_env("tax_sync", bootstrap, admin_url, keys), "LOG_LEVEL": "WARNING"}
            annual = run_dir / "shotoku-2026.csv"
            bad = income_figures("1000000033", 0, 1_200_000)
            lines = [
                format_line(income_figures("1000000011", 0, 2_400_000)),
                format_line(income_figures("1000000777", 0, 980_000)),  # not in the resident record
                format_line(bad).replace(",1,0,0,", ",-1,0,0,", 1),  # a negative 一般扶養数
            ]
            annual.write_text(",".join(JAPANESE) + "\r\n" + "\r\n".join(lines) + "\r\n", encoding="cp932")
            code, output = await run_cli(tax_env, "-m", "tax_sync", "import-file", str(annual))
            say(f"  annual file (Shift_JIS): {output} (exit {code})")
            for line in (run_dir / "shotoku-2026.csv.rejects.csv").read_text(encoding="utf-8").splitlines()[1:]:
                say(f"    rejected: {line}")
            code, output = await run_cli(tax_env, "-m", "tax_sync", "import-file", str(annual))
            say(f"  again: {output}")
            from kokunen_contracts.tax import IncomeAssessed

            correction = IncomeAssessed(
                event_id=uuid.uuid4(),
                effective_date=date(2026, 9, 18),
                recorded_at=datetime.now(JST),
                **income_figures("1000000011", 1, 2_150_000, medical_expense_deduction=250_000),
            )
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
            await producer.start()
            try:
                await publish_events(producer, INCOME_ASSESSED, [correction], source="/zei-system/demo")
            finally:
                await producer.stop()
            say("  the tax system publishes a 更正 (correction 1) for 1000000011 on tax.income-assessed.v1")
            await wait_for(
                urls["tax_sync"],
                "SELECT 1 FROM tax.income_assessment WHERE atena_number = '1000000011' AND correction_seq = 1",
            )
            figures = await fetch(
                urls["tax_sync"],
                """SELECT atena_number, income_year, correction_seq AS seq, total_income,
                          superseded_at IS NULL AS current, person_verified AS verified,
                          CASE WHEN source_file IS NULL THEN 'kafka' ELSE 'file line ' || source_line END AS source
                   FROM tax.income_assessment WHERE atena_number IN ('1000000011', '1000000777')
                   ORDER BY atena_number, correction_seq""",
            )
            table(figures, ["atena_number", "income_year", "seq", "total_income", "current", "verified", "source"])
            say("  tax.income-determined.v1 (no name, no address; a correction names what it supersedes):")
            [published] = await wait_for(
                urls["tax_sync"],
                "SELECT applied, published_through FROM tax.imported_file WHERE published_at IS NOT NULL",
            )
            say(
                f"    the annual file's {published['applied']} figures: published from the slice by the file relay "
                f"(through line {published['published_through']})"
            )
            events = await fetch(
                urls["tax_sync"],
                """SELECT convert_from(payload, 'UTF8')::jsonb AS body FROM tax.outbox
                   WHERE topic = 'tax.income-determined.v1' AND message_key = '1000000011'""",
            )
            for row in events:
                body = json.loads(row["body"]) if isinstance(row["body"], str) else row["body"]
                say(
                    f"    {body['kind']:<10} seq {body['correction_seq']}  合計所得金額 {body['total_income']:,}  "
                    f"supersedes {body['supersedes_event_id']}"
                )
            await counter_walk(counter_url, counter_env, admin_url)
            if os.environ.get("DEMO_STAY"):
                say(f"\nThe counter stays up at {counter_url} (DEMO_STAY): press Ctrl-C to stop everything.")
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.Event().wait()
        finally:
            heading("6. stopping")
            for process in processes.values():
                process.send_signal(signal.SIGTERM)
            for service, process in processes.items():
                try:
                    await asyncio.wait_for(process.wait(), timeout=30)
                except TimeoutError:
                    process.kill()
                    await process.wait()
                say(f"{service:<18} stopped (exit {process.returncode})")
    say("Kafka and PostgreSQL stopped. Done.")


async def counter_walk(url: str, env: dict[str, str], admin_url: str) -> None:
    """The counter (窓口): its address and demo staff; one inquiry signed in through the OIDC provider, the access
    log rows it wrote, and the log's verification."""
    import html
    import re

    import httpx

    heading("5g. counter (窓口) — the staff's pages")
    say(f"  open {url} and sign in as one of (the provider's sign-in page lists them):")
    for person in localstack.DEMO_STAFF:
        say(f"    {person['username']:<10} {person['name']:<8} {'・'.join(person['roles']) or '(no role)':<18} "
            f"{person['department']}")  # fmt: skip
    async with httpx.AsyncClient(timeout=30) as client:
        await wait_for(url_for_role(admin_url, BY_SERVICE["counter"].app_role),
                       "SELECT 1 FROM counter.person WHERE atena_number = '1000000055'")  # fmt: skip
        viewer = localstack.DEMO_STAFF[0]
        csrf = await sign_in(client, url, viewer)  # through the provider's sign-in page, as a browser would
        say(f"  signed in as {viewer['name']} ({viewer['username']}) through the provider: authorization code + PKCE")
        refused = await client.post(f"{url}/search", data={"csrf_token": csrf, "atena_number": "1000000022"})
        say(f"  search without a 処理事由 → HTTP {refused.status_code}: 処理事由を選択してください")
        reason = {"csrf_token": csrf, "reason_code": "02", "reason_text": "本人来庁 (住所変更後の記録確認)"}
        for atena in ("1000000022", "1000000055"):
            found = await client.post(f"{url}/search", data={**reason, "atena_number": atena})
            page = await client.post(f"{url}/person", data={**reason, "atena_number": atena})
            facts = {k: html.unescape(v) for k, v in re.findall(r"<dt>(.*?)</dt><dd>\s*(.*?)\s*</dd>", page.text, re.S)}
            shown = f"{facts.get('氏名', '')} ／ {facts.get('生年月日', '')} ／ 住所 {facts.get('住所', '')}"
            say(f"  照会 {atena} (HTTP {found.status_code}, {page.status_code}): {shown}")
            masked = html.unescape(re.sub(r"<[^>]+>", "", facts.get("個人番号", ""))).strip()
            say(f"    個人番号: {masked[:16]}  (masked: a viewer never receives it)")
        await file_at_the_counter(client, url, admin_url)
    rows = await fetch(
        url_for_role(admin_url, BY_SERVICE["counter"].app_role),
        """SELECT seq, to_char(logged_at AT TIME ZONE 'Asia/Tokyo', 'HH24:MI:SS') AS at, staff_id, department,
                  terminal, reason_code, action, coalesce(atena_number, query) AS subject, my_number_shown AS mn
           FROM counter.access_log ORDER BY seq""",
    )
    say("  アクセスログ (one row per search and view; hash-chained, append-only):")
    table(rows, ["seq", "at", "staff_id", "department", "terminal", "reason_code", "action", "subject", "mn"])
    code, output = await run_cli(env, "-m", "counter", "verify-access-log")
    say(f"  counter verify-access-log: {output} (exit {code})")


async def file_at_the_counter(client: Any, url: str, admin_url: str) -> None:
    """A clerk files a 住所変更届 through the counter's form (twice: the second is recognised as the same form) and
    reads eligibility's answer on the person's page."""
    import re

    clerk = next(p for p in localstack.DEMO_STAFF if p["username"] == "madoguchi")
    client.cookies.clear()
    csrf = await sign_in(client, url, clerk)
    reason = {"csrf_token": csrf, "reason_code": "01", "reason_text": "住所変更届の受付", "atena_number": "1000000022"}
    form = await client.post(f"{url}/forms/open", data={**reason, "form_id": "address_change"})
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form.text)
    if key is None:
        say(f"  the 住所変更届 form did not open (HTTP {form.status_code})")
        return
    filed = {**reason, "form_id": "address_change", "idempotency_key": key[1], "note": "市内転居 (窓口で受付)"}
    answers = [await client.post(f"{url}/forms/submit", data=filed) for _ in range(2)]
    say(f"  {clerk['name']} files a 住所変更届 for 1000000022 through the form, twice (HTTP "
        f"{answers[0].status_code}, {answers[1].status_code}): one filing, 受付番号 {key[1]}")  # fmt: skip
    await wait_for(
        url_for_role(admin_url, BY_SERVICE["counter"].app_role),
        "SELECT 1 FROM counter.filing_outcome WHERE filing_id = $1::uuid",
        key[1],
    )
    page = await client.post(f"{url}/person", data=reason)
    row = re.search(r'<tr data-kind="address_change">(.*?)</tr>', page.text, re.S)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row[1] if row else "")).strip()
    say(f"  the person's page shows eligibility's answer: {text}")


def main() -> int:
    run_dir = Path(tempfile.mkdtemp(prefix="kokunen-demo-"))
    say("kokunen demo — 国民年金に関する事務, event-driven")
    say(f"working folder: {run_dir}")
    asyncio.run(run(run_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
