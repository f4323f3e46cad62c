"""The monthly access-log review as files (アクセスログ分析報告): the month's rows and refused sign-ins read from the
counter's schema, the rules of ``domain.log_analysis`` applied, and a PDF (summary with the thresholds explained,
charts, every finding) and a CSV (one line per finding) written for the auditors. The run is itself an access to
the persons it names, so it writes its own access-log row (action ``audit_report``).

PDF by matplotlib in IPAゴシック (Debian's fonts-ipafont-gothic, as the JPS lists), TrueType embedded (so the text
can be searched and read back); no My Number and no 4情報 — persons appear by 宛名番号 only.
"""

from __future__ import annotations

import asyncio
import csv
import io
import socket
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from kokunen_common.wareki import wareki_text

from ..domain.access_log import Action
from ..domain.log_analysis import (
    JST,
    RULE_LABELS,
    LogRow,
    MonthReview,
    Rule,
    SignInFailure,
    Thresholds,
    parse_month,
    review_month,
)
from ..domain.office_calendar import closed_days
from ..domain.reasons import AUDIT_REASON
from ..settings import CounterAuditSettings
from .repository import AccessLog

FONT_FILES = (
    Path("/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf"),
    Path("/usr/share/fonts/truetype/fonts-japanese-gothic.ttf"),
)
REPORT_STAFF = ("access-log-report", "アクセスログ分析 (定期実行)", "監査")


class FontMissing(RuntimeError):
    """No Japanese font: install Debian's fonts-ipafont-gothic (``make print-tools``)."""


def thresholds_from(settings: CounterAuditSettings) -> Thresholds:
    """The thresholds the settings give; ``ValueError`` (in Japanese) for office hours that are not HH:MM-HH:MM."""
    try:
        opens, closes = (time.fromisoformat(t.strip()) for t in settings.counter_audit_office_hours.split("-"))
    except ValueError:
        raise ValueError(
            f"COUNTER_AUDIT_OFFICE_HOURS は 08:30-17:15 の形で指定してください: {settings.counter_audit_office_hours!r}"
        ) from None
    if opens >= closes:
        raise ValueError("COUNTER_AUDIT_OFFICE_HOURS: 開庁時刻は閉庁時刻より前にしてください")
    return Thresholds(
        office_opens=opens,
        office_closes=closes,
        daily_views=settings.counter_audit_daily_views,
        staff_per_person=settings.counter_audit_staff_per_person,
        failed_sign_ins=settings.counter_audit_failed_sign_ins,
    )


async def read_month(conn: asyncpg.Connection, month: str) -> tuple[list[LogRow], list[SignInFailure]]:
    """The month's access-log rows and refused sign-ins (days in JST), in one snapshot."""
    first, last = parse_month(month)
    since = datetime.combine(first, time(0), JST)
    until = datetime.combine(last + timedelta(days=1), time(0), JST)
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        rows = await conn.fetch(
            "SELECT seq, logged_at, staff_id, staff_name, department, terminal, action, atena_number, my_number_shown "
            "FROM counter.access_log WHERE logged_at >= $1 AND logged_at < $2 ORDER BY seq",
            since,
            until,
        )
        failures = await conn.fetch(
            "SELECT failed_at, terminal, staff_id, problem FROM counter.sign_in_failure "
            "WHERE failed_at >= $1 AND failed_at < $2 ORDER BY failed_at",
            since,
            until,
        )
    return [LogRow.of(r) for r in rows], [SignInFailure(**dict(r)) for r in failures]


async def log_the_review(conn: asyncpg.Connection, review: MonthReview) -> None:
    """The report names persons (宛名番号): writing it is an access to their records, logged like any other."""
    named = sorted({f.atena_number for f in review.findings if f.atena_number})
    async with conn.transaction():
        await AccessLog(conn).append(
            {
                "logged_at": datetime.now(UTC),
                "staff_id": REPORT_STAFF[0],
                "staff_name": REPORT_STAFF[1],
                "department": REPORT_STAFF[2],
                "terminal": socket.gethostname(),
                "reason_code": AUDIT_REASON.code,
                "reason_text": f"{review.month} のアクセスログ分析 (定期)",
                "action": Action.AUDIT_REPORT.value,
                "atena_number": None,
                "query": f"対象月={review.month}",
                "result_count": review.rows,
                "shown": {"persons": [{"宛名番号": a} for a in named]},
                "my_number_shown": False,
            }
        )


CSV_COLUMNS = ("区分", "日付", "時刻", "職員ID", "職員名", "部署", "宛名番号", "件数", "内容", "連番")


def review_csv(review: MonthReview) -> str:
    """One line per finding (UTF-8 with BOM, for Excel); 連番 are the access-log rows to open."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for f in review.findings:
        writer.writerow(
            [
                f.rule.label,
                f.day.isoformat(),
                f.at.astimezone(JST).strftime("%H:%M:%S") if f.at else "",
                f.staff_id,
                f.staff_name,
                f.department,
                f.atena_number,
                f.count,
                f.detail,
                " ".join(str(s) for s in f.seqs),
            ]
        )
    return out.getvalue()


def _font() -> Any:
    from matplotlib import font_manager

    for path in FONT_FILES:
        if path.exists():
            font_manager.fontManager.addfont(str(path))
            return font_manager.FontProperties(fname=str(path)).get_name()
    raise FontMissing("IPAゴシック (fonts-ipafont-gothic) がありません: make print-tools で導入してください")


LINES_PER_PAGE = 34


def review_pdf(review: MonthReview) -> bytes:
    """The report: a summary page (the figures, each rule's count and its threshold in words, the month's closed
    days), a page of charts, then every finding by rule."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    family = _font()
    style: Any = {"font.family": family, "pdf.fonttype": 42, "axes.unicode_minus": False, "font.size": 9}
    buffer = io.BytesIO()
    title = f"アクセスログ分析報告 {_month_wareki(review.first_day)} ({review.month})"
    with plt.rc_context(style), PdfPages(buffer, metadata={"Title": title, "CreationDate": None}) as pdf:
        pdf.savefig(_summary_page(plt, review, title))
        pdf.savefig(_charts_page(plt, review, title))
        lines = _finding_lines(review)
        pages = max(1, -(-len(lines) // LINES_PER_PAGE))
        for n in range(pages):
            pdf.savefig(
                _lines_page(plt, title, f"指摘事項 ({n + 1}/{pages})", lines[n * LINES_PER_PAGE :][:LINES_PER_PAGE])
            )
        plt.close("all")
    return buffer.getvalue()


A4_LANDSCAPE = (11.69, 8.27)


def _month_wareki(first: date) -> str:
    return wareki_text(first).rsplit("月", 1)[0] + "月"


def _page(plt: Any, title: str, heading: str) -> Any:
    figure = plt.figure(figsize=A4_LANDSCAPE)
    figure.text(0.05, 0.95, title, fontsize=15, va="top")
    figure.text(0.05, 0.905, heading, fontsize=11, va="top")
    figure.text(0.95, 0.03, "宛名番号のみを記載 (個人番号・4情報は記載しません)", fontsize=7, ha="right", color="#555")
    return figure


def _summary_page(plt: Any, review: MonthReview, title: str) -> Any:
    figure = _page(plt, title, f"対象期間 {review.first_day} 〜 {review.last_day} (日本時間)")
    y = 0.84
    for label, value in (
        ("アクセスログの件数", f"{review.rows:,}件 (職員 {review.staff_count}人)"),
        ("サインインの失敗", f"{review.sign_in_failures:,}件"),
        ("指摘事項", f"{len(review.findings):,}件"),
    ):
        figure.text(0.06, y, label, fontsize=10)
        figure.text(0.26, y, value, fontsize=10)
        y -= 0.035
    y -= 0.02
    figure.text(0.06, y, "規則ごとの件数と基準", fontsize=11)
    y -= 0.04
    explained = dict(review.thresholds.explained())
    basis = {
        Rule.OUTSIDE_HOURS: "開庁時間", Rule.CLOSED_DAY: "開庁時間", Rule.DAILY_VIEWS: "1日の照会件数",
        Rule.MANY_STAFF: "照会した職員数", Rule.MY_NUMBER: "個人番号の表示", Rule.SIGN_IN_FAILED: "サインインの失敗",
        Rule.SIGN_IN_REPEATED: "サインインの失敗",
    }  # fmt: skip
    for rule in Rule:
        figure.text(0.06, y, f"{rule.label}", fontsize=9.5)
        figure.text(0.30, y, f"{review.by_rule.get(rule, 0):>5}件", fontsize=9.5)
        figure.text(0.37, y, explained[basis[rule]], fontsize=8.5, wrap=True)
        y -= 0.045
    y -= 0.01
    closed = "、".join(f"{d.month}/{d.day} {name}" for d, name in sorted(review.closed_days.items())) or "なし"
    figure.text(0.06, y, f"この月の祝日・年末年始 (土日のほか閉庁日とするもの): {closed}", fontsize=9)
    law = "閉庁日: 地方自治法4条の2 に基づく休日条例 (土曜日・日曜日、国民の祝日に関する法律の休日、12月29日〜1月3日)"
    figure.text(0.06, y - 0.035, law, fontsize=8, color="#333")
    return figure


def _charts_page(plt: Any, review: MonthReview, title: str) -> Any:
    figure = _page(plt, title, "グラフ")
    grid = figure.add_gridspec(2, 2, left=0.07, right=0.97, top=0.86, bottom=0.08, hspace=0.45, wspace=0.3)
    days = sorted(review.rows_per_day)
    closed = [d in review.closed_days or d.weekday() >= 5 for d in days]
    ax = figure.add_subplot(grid[0, 0])
    for day, is_closed in zip(days, closed, strict=True):
        if is_closed:  # the closed days as a band, so that even one row on them shows
            ax.axvspan(day.day - 0.5, day.day + 0.5, color="#f6d5d9")
            if review.rows_per_day[day]:
                ax.annotate(str(review.rows_per_day[day]), (day.day, review.rows_per_day[day]), ha="center",
                            va="bottom", color="#d1495b", fontsize=8)  # fmt: skip
    ax.bar([d.day for d in days], [review.rows_per_day[d] for d in days],
           color=["#d1495b" if c else "#3565a8" for c in closed])  # fmt: skip
    ax.set_title("日別の操作件数 (赤: 閉庁日。数字はその日の件数)")
    ax.set_xlabel("日")
    ax.set_ylabel("件数")
    ax = figure.add_subplot(grid[0, 1])
    opens, closes = review.thresholds.office_opens, review.thresholds.office_closes
    ax.axvspan(opens.hour + opens.minute / 60 - 0.5, closes.hour + closes.minute / 60 - 0.5, color="#e8eef7")
    ax.bar(range(24), review.rows_per_hour, color="#3565a8")
    for hour, rows in enumerate(review.rows_per_hour):
        if rows and not opens.hour <= hour < closes.hour + (closes.minute > 0):  # outside hours: the figure shown
            ax.annotate(str(rows), (hour, rows), ha="center", va="bottom", color="#d1495b", fontsize=8)
    ax.set_title(f"時刻別の操作件数 (網掛け: 開庁時間 {opens:%H:%M}〜{closes:%H:%M}。赤字: 時間外の件数)")
    ax.set_xlabel("時")
    ax.set_xticks(range(0, 24, 3))
    _ranking(figure.add_subplot(grid[1, 0]), review.top_daily_views, review.thresholds.daily_views,
             "職員別: 1日の照会件数の最大", "件")  # fmt: skip
    _ranking(figure.add_subplot(grid[1, 1]), review.top_staff_per_person, review.thresholds.staff_per_person,
             "者別: 照会した職員数 (上位)", "人")  # fmt: skip
    return figure


def _ranking(ax: Any, ranking: Sequence[tuple[str, int]], threshold: int, title: str, unit: str) -> None:
    names = [name for name, _ in ranking][::-1]
    values = [value for _, value in ranking][::-1]
    ax.barh(names, values, color=["#d1495b" if v > threshold else "#3565a8" for v in values])
    ax.axvline(threshold, color="#d1495b", linestyle="--", linewidth=1)
    ax.set_title(f"{title} (破線: 基準 {threshold}{unit})")
    ax.tick_params(axis="y", labelsize=7)


def _finding_lines(review: MonthReview) -> list[str]:
    lines: list[str] = []
    for rule in Rule:
        findings = [f for f in review.findings if f.rule is rule]
        lines.append(f"■ {RULE_LABELS[rule]} ({len(findings)}件)")
        if not findings:
            lines.append("    該当なし")
        for f in findings:
            at = f.at.astimezone(JST).strftime("%H:%M") if f.at else "     "
            who = f"{f.staff_id} {f.staff_name} ({f.department})" if f.staff_name else f.staff_id
            person = f"宛名番号 {f.atena_number}" if f.atena_number else ""
            seqs = " ".join(str(s) for s in f.seqs[:6]) + (" …" if len(f.seqs) > 6 else "")
            lines.append(f"    {f.day:%m/%d} {at}  {who}  {person}  {f.detail}" + (f"  [連番 {seqs}]" if seqs else ""))
    return lines


def _lines_page(plt: Any, title: str, heading: str, lines: Sequence[str]) -> Any:
    figure = _page(plt, title, heading)
    for n, line in enumerate(lines):
        figure.text(0.05, 0.86 - n * 0.0235, line[:150], fontsize=8.5, va="top")
    return figure


async def review_from_database(conn: asyncpg.Connection, month: str, thresholds: Thresholds) -> MonthReview:
    first, last = parse_month(month)
    rows, failures = await read_month(conn, month)
    return review_month(month, rows, failures, closed_days(first, last), thresholds)


def write_files(review: MonthReview, output_dir: Path) -> tuple[Path, Path]:
    """``access-log-report-<month>.pdf`` and ``.csv`` in ``output_dir``."""
    output_dir.mkdir(parents=True, exist_ok=True)
    pdf = output_dir / f"access-log-report-{review.month}.pdf"
    table = output_dir / f"access-log-report-{review.month}.csv"
    pdf.write_bytes(review_pdf(review))
    table.write_text(review_csv(review), encoding="utf-8")
    return pdf, table


def report_command(month: str, output_dir: Path | None) -> None:
    """``counter access-log-report --month YYYY-MM``: bad input is answered with a message and exit 2."""
    import typer

    from ..settings import CounterSettings

    try:
        parse_month(month)
        audit = CounterAuditSettings()
        thresholds = thresholds_from(audit)
    except ValueError as exc:  # MonthRefused, settings that are not numbers or times
        typer.echo(f"access-log-report: {exc}", err=True)
        raise typer.Exit(2) from None
    settings = CounterSettings()

    async def go() -> tuple[MonthReview, Path, Path]:
        conn = await asyncpg.connect(settings.database_url.get_secret_value())
        try:
            review = await review_from_database(conn, month, thresholds)
            pdf, table = await asyncio.to_thread(write_files, review, output_dir or audit.counter_audit_report_dir)
            await log_the_review(conn, review)  # once the report exists: the read happened
            return review, pdf, table
        finally:
            await conn.close()

    review, pdf, table = asyncio.run(go())
    counts = ", ".join(f"{rule.label} {review.by_rule.get(rule, 0)}" for rule in Rule)
    typer.echo(f"{review.month}: {review.rows} rows, {len(review.findings)} findings ({counts})")
    typer.echo(f"written: {pdf} {table}")
