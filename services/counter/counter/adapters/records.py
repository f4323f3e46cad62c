"""The counter's records as documents: the 受付処理簿 (a counter's filings of a day or a week, as a page and a PDF)
and the 開示請求 export (everything held on one person, as a PDF and a JSON file in one ZIP).

Both show personal data, so both need a 処理事由 and write one access-log row in the transaction that reads
(the book: one row listing every person it shows; the export: one row for the person). PDFs are drawn by
``kokunen_common.printing``, the same layer as the JPS lists; dates in 和暦 and 西暦.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from kokunen_common import printing
from kokunen_contracts.tax import IncomeDetermined

from ..domain import qualification
from ..domain.access_log import Action
from ..domain.disclosure import DisclosureExport, build_export
from ..domain.display import both_dates, show_person, yen
from ..domain.reception import OUTCOME_LABELS, BookPeriod, Outcome, Span, jps_report_kind, kind_label, reported_to_jps
from ..domain.search import ATENA, normalise
from ..domain.staff import Permission
from .pages import PageError, Pages
from .reception_repository import Receptions
from .repository import ReadModel

JST = ZoneInfo("Asia/Tokyo")


def when(moment: datetime | None) -> str:
    """令和8年12月5日 13:05 (Japan time)."""
    if moment is None:
        return ""
    local = moment.astimezone(JST)
    return f"{both_dates(local.date()).split(' (')[0]} {local:%H:%M}"


def records_router(pages: Pages) -> APIRouter:
    router = APIRouter()

    # --- 受付処理簿 ----------------------------------------------------------------------------------

    def book_form(department: str, day: str, span: str) -> tuple[str, BookPeriod]:
        department = normalise(department[:100])
        if not department or len(department) > 80:
            raise PageError(400, "入力内容を確認してください", "部署 (窓口) を選んでください。")
        try:
            first = date.fromisoformat(normalise(day[:40])) if day else datetime.now(JST).date()
            return department, BookPeriod.of(first, Span(span or "day"))
        except ValueError:
            raise PageError(
                400, "入力内容を確認してください", "日付は 2026-12-05 の形で、期間は日計か週計を選んでください。"
            ) from None

    @router.get("/records/reception-book")
    async def reception_book_form(request: Request) -> HTMLResponse:
        me = await pages.signed_in(request)
        pages.require(me, Permission.READ_RECEPTION_BOOK)
        async with pages.pool().acquire() as conn:
            departments = await Receptions(conn).departments()
        form = {"department": me.staff.department, "day": datetime.now(JST).date().isoformat(), "span": "day"}
        return pages.render(request, "reception_book.html", signed_in=me, departments=departments, form=form, book=None)

    @router.post("/records/reception-book", response_model=None)
    async def reception_book(
        request: Request,
        csrf_token: str = Form(""),
        reason_code: str = Form(""),
        reason_text: str = Form(""),
        department: str = Form(""),
        day: str = Form(""),
        span: str = Form("day"),
        output: str = Form("page"),
    ) -> Response:
        me, reason = await pages.allowed(request, csrf_token, Permission.READ_RECEPTION_BOOK, reason_code, reason_text)
        counter, period = book_form(department, day, span)
        pdf = output == "pdf"
        async with pages.logged(request, me, reason, Action.RECEPTION_BOOK) as access:
            receptions = Receptions(access.conn)
            rows = await receptions.book(counter, period.first, period.last)
            departments = await receptions.departments()
            access.record(
                query=f"部署={counter} 期間={period.first.isoformat()}〜{period.last.isoformat()}"
                + (" PDF" if pdf else ""),
                result_count=len(rows),
                shown=[_book_log_form(r, pdf=pdf) for r in rows],
            )
        book = [_book_line(n, r) for n, r in enumerate(rows, start=1)]
        if pdf:
            document = reception_book_document(counter, period, book, me.staff.department, datetime.now(UTC))
            name = f"reception-book-{period.first.isoformat()}-{period.span.value}.pdf"
            return Response(
                printing.render(document),
                media_type="application/pdf",
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )
        form = {"department": counter, "day": period.first.isoformat() if period.span is Span.DAY else day,
                "span": period.span.value, "reason_code": reason.code, "reason_text": reason.text}  # fmt: skip
        return pages.render(
            request,
            "reception_book.html",
            signed_in=me,
            departments=departments,
            form=form,
            book=book,
            period=period,
            counter=counter,
            totals=_totals(book),
        )

    # --- 開示請求 ------------------------------------------------------------------------------------

    @router.get("/records/disclosure")
    async def disclosure_form(request: Request) -> HTMLResponse:
        me = await pages.signed_in(request)
        pages.require(me, Permission.EXPORT_DISCLOSURE)
        return pages.render(request, "disclosure.html", signed_in=me)

    @router.post("/records/disclosure")
    async def disclosure(
        request: Request,
        csrf_token: str = Form(""),
        reason_code: str = Form(""),
        reason_text: str = Form(""),
        atena_number: str = Form(""),
    ) -> Response:
        me, reason = await pages.allowed(request, csrf_token, Permission.EXPORT_DISCLOSURE, reason_code, reason_text)
        atena = normalise(atena_number[:100])
        if not ATENA.match(atena):
            raise PageError(400, "入力内容を確認してください", "宛名番号は半角数字15桁以内です。")
        at = datetime.now(UTC)
        # The export's row is appended last (the log's lane is held only until the commit).
        async with pages.logged(request, me, reason, Action.DISCLOSURE_EXPORT) as access:
            model, receptions = ReadModel(access.conn), Receptions(access.conn)
            person = await model.person(atena)
            shown = None if person is None else show_person(person, me.staff, with_address=not person["suspended"])
            entry = access.record(
                atena_number=atena,
                result_count=0 if person is None else 1,
                shown=[] if shown is None else [shown.log_form()],
            )
            if person is not None:
                export = build_export(
                    person=person,
                    periods=qualification.history(await model.qualification_events(atena)),
                    incomes=await model.incomes(atena),
                    filings=await receptions.filings_of(atena),
                    decisions=await receptions.decisions_of(atena),
                    jps_decisions=await receptions.jps_decisions_of(atena),
                    transfers=await model.transfer_records(atena, limit=100_000),
                    # The export lists its own making too (its row is appended as the block's last statement).
                    accesses=[*await receptions.accesses_of(atena), entry],
                    reason=reason,
                    department=me.staff.department,
                    at=at,
                )
        if person is None:  # after the commit: the attempt stays in the log
            raise PageError(404, "該当する方が見つかりません", f"宛名番号 {atena} の方は登録されていません。")
        stem = f"disclosure-{atena}-{at.astimezone(JST):%Y%m%d}"
        return Response(
            disclosure_zip(stem, export),
            media_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="{stem}.zip"'},
        )

    return router


# --- the book -------------------------------------------------------------------------------------


def _book_log_form(row: Mapping[str, Any], *, pdf: bool) -> dict[str, Any]:
    """As the access log keeps a listed person: what the book showed (a PDF names a 処理停止 person by number)."""
    hidden = pdf and row["suspended"]
    return {
        "宛名番号": row["atena_number"],
        "氏名": "" if hidden else (row["name"] or ""),
        "生年月日": "" if hidden or row["birth_date"] is None else row["birth_date"].isoformat(),
        "処理停止": bool(row["suspended"]),
    }


def _book_line(n: int, row: Mapping[str, Any]) -> dict[str, Any]:
    outcome = Outcome(row["outcome"])
    jps = jps_report_kind(row["source"], row["kind"])
    return {
        **row,
        "seq": n,
        "kind_label": kind_label(row["source"], row["kind"]),
        "jps_kind_label": jps.label if jps else "",
        "outcome_label": OUTCOME_LABELS[outcome],
        "jps": reported_to_jps(row["source"], row["kind"], outcome),
    }


def _totals(book: Sequence[Mapping[str, Any]]) -> list[tuple[str, int]]:
    """件数 by the JPS medium's kinds (what the week's 進達 will count), then the whole."""
    counts: dict[str, int] = {}
    for line in book:
        if line["jps"] == "対象":
            counts[line["jps_kind_label"]] = counts.get(line["jps_kind_label"], 0) + 1
    return [*sorted(counts.items()), ("進達対象 計", sum(counts.values())), ("受付 計", len(book))]


def reception_book_document(
    counter: str, period: BookPeriod, book: Sequence[Mapping[str, Any]], made_by: str, at: datetime
) -> printing.Document:
    """受付処理簿 as printed: a 処理停止 person is named by 宛名番号 only (nothing else of them leaves on paper)."""
    return printing.Document(
        title="国民年金 受付処理簿",
        cover_lines=[
            ("窓口 (部署)", counter),
            ("期間", period.text),
            ("作成日時", when(at)),
            ("作成部署", made_by),
        ],
        summary_title="進達対象の届書等の種類別件数 (日本年金機構への送付書と同じ区分)",
        summary=[(label, f"{n} 件") for label, n in _totals(book)],
        list_title=f"受付処理簿 — {counter} — {period.text}",
        columns=[
            printing.ListColumn("連番", 10),
            printing.ListColumn("受付年月日", 28),
            printing.ListColumn("受付番号", 22),
            printing.ListColumn("届書等の種類", 46),
            printing.ListColumn("宛名番号", 26),
            printing.ListColumn("氏名", 32),
            printing.ListColumn("生年月日", 28),
            printing.ListColumn("基礎年金番号", 24),
            printing.ListColumn("職員", 18),
            printing.ListColumn("処理結果", 16),
            printing.ListColumn("進達", 14),
        ],
        rows=[
            [
                str(line["seq"]),
                both_dates(line["received_on"]).split(" (")[0],
                str(line["receipt_id"])[:8],
                line["kind_label"],
                line["atena_number"],
                "(処理停止)" if line["suspended"] else (line["name"] or ""),
                ""
                if line["suspended"] or line["birth_date"] is None
                else both_dates(line["birth_date"]).split(" (")[0],
                "" if line["suspended"] else (line["basic_pension_number"] or ""),
                line["staff_id"],
                line["outcome_label"],
                line["jps"],
            ]
            for line in book
        ],
        footer=f"受付処理簿 {counter} {period.first.isoformat()}〜{period.last.isoformat()}",
    )


# --- the disclosure export ------------------------------------------------------------------------


def _d(day: date | None) -> str:
    return both_dates(day) if day else ""


def disclosure_document(export: DisclosureExport) -> printing.Document:
    """The export as printed, the same content as its JSON (dates in 和暦 and 西暦, no My Number)."""
    p = export.person
    return printing.Document(
        title="保有個人情報の開示 — 国民年金",
        cover_lines=[
            ("宛名番号", p.atena_number),
            ("氏名", f"{p.name} ({p.name_kana})" if p.name_kana else p.name),
            ("生年月日", _d(p.birth_date)),
            ("性別", p.sex),
            ("住所", p.address if p.address is not None else "記載していません (処理停止)"),
            ("住民の状況", ("住民" if p.is_resident else "住民でない") + ("" if p.lives_in_japan else " ／ 国外居住")),
            ("基礎年金番号", p.basic_pension_number or "未登録"),
            ("個人番号", "登録あり (番号は記載しません)" if p.my_number_registered else "登録なし"),
            ("作成日時", when(export.generated_at)),
            ("作成部署", export.generated_by_department),
        ],
        summary_title="記載した記録の件数",
        summary=[
            ("国民年金の資格の履歴", f"{len(export.qualification_periods)} 件"),
            ("所得 (免除審査に用いる額)", f"{len(export.incomes)} 件"),
            ("届出と処理結果", f"{len(export.filings)} 件"),
            ("免除・届出・裁定請求の結果", f"{len(export.decisions)} 件"),
            ("免除等申請に対する日本年金機構の決定", f"{len(export.jps_decisions)} 件"),
            ("提供・移転の記録", f"{len(export.transfers)} 件"),
            ("記録を照会した記録", f"{len(export.accesses)} 件"),
        ],
        cover_notes=export.notes,
        list_title="国民年金の資格の履歴",
        columns=[
            printing.ListColumn("被保険者種別", 40),
            printing.ListColumn("資格取得日", 50),
            printing.ListColumn("取得事由", 45),
            printing.ListColumn("資格喪失日", 50),
            printing.ListColumn("喪失事由", 45),
            printing.ListColumn("最後の異動", 30),
        ],
        rows=[
            [q.category, _d(q.acquired_on), q.acquisition_reason, _d(q.lost_on), q.loss_reason or "", q.last_change]
            for q in export.qualification_periods
        ],
        more_lists=[
            printing.Listing(
                "所得 (免除審査に用いる額)",
                [printing.ListColumn("所得年", 30), printing.ListColumn("更正", 25), printing.ListColumn("内訳", 210)],
                [
                    [
                        f"{i.income_year}年",
                        "当初" if i.correction_seq == 0 else f"更正{i.correction_seq}",
                        _figures(i.figures),
                    ]
                    for i in export.incomes
                ],
            ),
            printing.Listing(
                "届出と処理結果",
                [
                    printing.ListColumn("受付日", 45),
                    printing.ListColumn("届出等の種類", 50),
                    printing.ListColumn("受付部署", 45),
                    printing.ListColumn("処理結果", 20),
                    printing.ListColumn("説明・根拠", 105),
                ],
                [
                    [_d(f.received_on), f.kind, f.department or "", f.outcome, f.explanation or ""]
                    for f in export.filings
                ],
            ),
            printing.Listing(
                "免除・届出・裁定請求の結果",
                [
                    printing.ListColumn("処理日時", 45),
                    printing.ListColumn("種類", 40),
                    printing.ListColumn("結果", 40),
                    printing.ListColumn("期間", 35),
                    printing.ListColumn("根拠・理由", 105),
                ],
                [
                    [when(d.decided_at), d.kind, d.outcome, d.months or "", "; ".join(d.grounds)]
                    for d in export.decisions
                ],
            ),
            printing.Listing(
                "免除・納付猶予・学生納付特例申請に対する日本年金機構の決定",
                [
                    printing.ListColumn("処理年月日", 45),
                    printing.ListColumn("申請の種類", 40),
                    printing.ListColumn("決定", 15),
                    printing.ListColumn("適用される区分", 30),
                    printing.ListColumn("期間", 35),
                    printing.ListColumn("説明・根拠", 102),
                ],
                [
                    [_d(j.decided_on), j.kind, j.decision, j.tier or "なし", j.months, j.explanation]
                    for j in export.jps_decisions
                ],
            ),
            printing.Listing(
                "提供・移転の記録 (この方について送った情報)",
                [
                    printing.ListColumn("提供・移転日", 45),
                    printing.ListColumn("区分", 15),
                    printing.ListColumn("提供・移転先", 50),
                    printing.ListColumn("項目", 85),
                    printing.ListColumn("根拠", 72),
                ],
                [
                    [
                        _d(t.sent_on),
                        t.kind + (f" ({t.correction})" if t.correction else ""),
                        t.recipient,
                        "、".join(t.fields),
                        t.legal_basis,
                    ]
                    for t in export.transfers
                ],
            ),
            printing.Listing(
                "記録を照会した記録 (部署・日時・処理事由; 職員名は記載しません)",
                [
                    printing.ListColumn("処理日時", 45),
                    printing.ListColumn("部署", 55),
                    printing.ListColumn("操作", 30),
                    printing.ListColumn("処理事由", 137),
                ],
                [[when(a.at), a.department, a.action, f"{a.reason} ({a.reason_text})"] for a in export.accesses],
            ),
        ],
        footer=f"開示 {p.atena_number} {export.generated_at.astimezone(JST):%Y-%m-%d}",
    )


def _figures(figures: Mapping[str, Any]) -> str:
    """Each figure under the contract's own Japanese name (tax.income-determined.v1's field descriptions)."""
    fields = IncomeDetermined.model_fields
    parts = []
    for key, value in figures.items():
        field = fields.get(key)
        if field is None or key in ("kind", "person_verified", "income_year", "correction_seq"):
            continue
        label = (field.description or key).split(" (")[0]
        if value is None:  # an optional figure the tax system did not give (e.g. 16〜18歳の扶養親族の数)
            parts.append(f"{label} 不明")
            continue
        shown = ("はい" if value else "いいえ") if isinstance(value, bool) else value
        parts.append(f"{label} {yen(shown) if field.description and '円' in field.description else shown}")
    return "、".join(parts)


def disclosure_zip(stem: str, export: DisclosureExport) -> bytes:
    """One ZIP with ``<stem>.pdf`` and ``<stem>.json`` (UTF-8; valid against disclosure-export.v1.json)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{stem}.pdf", printing.render(disclosure_document(export)))
        archive.writestr(f"{stem}.json", export.model_dump_json(indent=2).encode())
    return buffer.getvalue()
