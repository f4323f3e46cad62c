"""The monthly access-log report (``counter access-log-report``) on the real database: a synthetic month written
through the hash-chained log, the command run as the CronJob runs it, the PDF read back with pdftotext and the CSV
holding exactly the planted anomalies; the run logs its own read; bad input gets a message and exit 2."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from counter.adapters.repository import AccessLog, SignInFailures
from counter.domain.log_analysis import RULE_LABELS

from .conftest import CounterWorld
from .synthetic_log import MONTH, WIDELY_VIEWED, synthetic_month

pytestmark = pytest.mark.integration


def run_report(world: CounterWorld, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **world.platform.service_env("counter"), "MPLCONFIGDIR": str(world.output / "mpl")}
    return subprocess.run([sys.executable, "-m", "counter", "access-log-report", *args], env=env,
                          capture_output=True, text=True, check=False, timeout=600)  # fmt: skip


def pdf_text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def charts_as_image(pdf: Path, prefix: Path) -> None:
    """The charts page as PNG beside the test run's screenshots, for a person to look at."""
    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-png", "-r", "70", "-f", "2", "-l", "2", str(pdf), str(prefix)], check=True)


async def test_the_report_finds_every_planted_anomaly_and_logs_its_own_read(
    counter_world: CounterWorld, tmp_path: Path
) -> None:
    month = synthetic_month(ordinary_staff=3, views=(1, 3))  # a light ordinary month; every anomaly planted
    conn = await counter_world.platform.connect_as("counter")
    try:
        async with conn.transaction():
            log_book = AccessLog(conn)
            for row in month.rows:
                await log_book.append({
                    "logged_at": row.logged_at, "staff_id": row.staff_id, "staff_name": row.staff_name,
                    "department": row.department, "terminal": row.terminal, "reason_code": "03",
                    "reason_text": "合成データ", "action": row.action, "atena_number": row.atena_number,
                    "query": None, "result_count": 1, "shown": {"persons": []},
                    "my_number_shown": row.my_number_shown,
                })  # fmt: skip
            for failure in month.failures:
                await SignInFailures(conn).record(
                    failure.terminal, failure.staff_id, failure.problem, failure.failed_at
                )
    finally:
        await conn.close()

    done = await asyncio.to_thread(run_report, counter_world, "--month", MONTH, "--output-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    pdf, table = tmp_path / f"access-log-report-{MONTH}.pdf", tmp_path / f"access-log-report-{MONTH}.csv"

    lines = list(csv.DictReader(io.StringIO(table.read_text(encoding="utf-8-sig"))))
    rules = {label: rule.value for rule, label in RULE_LABELS.items()}
    found = {(rules[r["区分"]], r["日付"], r["職員ID"], r["宛名番号"]) for r in lines}
    assert found == month.planted

    text = await asyncio.to_thread(pdf_text, pdf)
    for expected in ("アクセスログ分析報告 令和8年11月 (2026-11)", "文化の日の10:15に照会", "yakin 夜勤 太郎",
                     f"宛名番号 {WIDELY_VIEWED}", "7人の職員が照会 (基準 5人)", "s07", "番号 次郎",
                     "端末 10.0.0.99: 1日に4件", "1人の職員が1日に開いた個人の画面", "日別の操作件数"):  # fmt: skip
        assert expected in text, expected
    await asyncio.to_thread(charts_as_image, pdf, counter_world.output / "access-log-report-charts")

    admin = await counter_world.platform.admin()
    try:
        own = await admin.fetchrow(
            "SELECT * FROM counter.access_log WHERE action = 'audit_report' AND query = $1 ORDER BY seq DESC LIMIT 1",
            f"対象月={MONTH}",
        )
    finally:
        await admin.close()
    assert own is not None
    assert own["reason_code"] == "90"
    assert own["result_count"] == len(month.rows) - 2  # the two rows of other months (in JST) are not read
    assert f'"宛名番号": "{WIDELY_VIEWED}"' in own["shown"]
    assert own["logged_at"] > datetime(2026, 12, 1, tzinfo=UTC)


@pytest.mark.parametrize("args", [["--month", "2026-13"], ["--month", "11/2026"], []])
def test_a_bad_month_is_answered_with_a_message_and_exit_2(counter_world: CounterWorld, args: list[str]) -> None:
    done = run_report(counter_world, *args)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert ("月" in done.stderr) if args else ("--month" in done.stderr)
