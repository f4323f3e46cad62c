"""処理結果一覧表 (processing-result list) as the pension office sends it: a CSV, UTF-8 (with or without
BOM) or CP932, one line per record it processed, with a header row of Japanese column names.

Dates may be written in 西暦 (YYYYMMDD or YYYY-MM-DD) or as the seven-digit 和暦 code (GYYMMDD). A line that
cannot be read is kept with its problems (it reconciles as unexpected) rather than stopping the import.
The My Number column is read only to be compared through a keyed hash; it is never printed or kept.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import date

from kokunen_contracts.eligibility import ExemptionTier, JpsDecision

from . import wareki
from .layout import CATEGORY_CODES, REPORT_KIND_CODES

COLUMNS = {
    "送付番号": "batch_id",
    "受付番号": "report_id",
    "宛名番号": "atena_number",
    "基礎年金番号": "basic_pension_number",
    "個人番号": "my_number",
    "届書種別コード": "report_kind",
    "被保険者種別": "insured_category",
    "資格取得年月日": "acquired_on",
    "資格喪失年月日": "lost_on",
    "処理結果": "outcome",
    "処理結果コード": "result_code",
    "エラー内容": "message",
    "処理年月日": "processed_on",
    "審査結果": "decision",  # 免除等申請に対する日本年金機構の決定
    "承認区分": "approved_tier",
}
REQUIRED = ("受付番号", "処理結果")
OUTCOMES = {"処理済": "processed", "正常": "processed", "返戻": "returned", "エラー": "returned", "保留": "pending"}
DECISIONS = {decision.label: decision.value for decision in JpsDecision}
"""審査結果 (承認・却下): JPS's decision on a reported 免除・納付猶予・学生納付特例申請 (blank on other lines)."""
APPROVED_TIERS = {tier.label: tier.value for tier in ExemptionTier}
"""承認区分 (全額免除 …): the tier JPS approved, when it names one (blank: the tier the city reported)."""
_KIND_BY_CODE = {code: kind for kind, code in REPORT_KIND_CODES.items()}
_CATEGORY_BY_CODE = {code: category for category, code in CATEGORY_CODES.items()}


class ResultListError(ValueError):
    """The file is not a processing-result list at all (no header, unknown encoding)."""


@dataclass(frozen=True)
class ResultLine:
    line_number: int
    batch_id: str | None
    report_id: uuid.UUID | None
    atena_number: str | None
    basic_pension_number: str | None
    my_number: str | None = field(repr=False)  # compared by keyed hash only; never printed
    report_kind: str | None
    insured_category: str | None
    acquired_on: date | None
    lost_on: date | None
    outcome: str
    result_code: str | None
    message: str | None
    processed_on: date | None
    problems: tuple[str, ...] = ()
    decision: str | None = None
    approved_tier: str | None = None


def decode_text(data: bytes) -> str:
    """UTF-8 (BOM or not) first, then CP932: a CP932 file is almost never valid UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp932")
    except UnicodeDecodeError:
        raise ResultListError("処理結果一覧表は UTF-8 又は CP932 の CSV です") from None


def parse_date(text: str) -> date:
    value = text.strip()
    if re.fullmatch(r"[0-9]{7}", value):
        return wareki.from_code(value)
    if re.fullmatch(r"[0-9]{8}", value):
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    return date.fromisoformat(value)


def parse(data: bytes) -> list[ResultLine]:
    reader = csv.reader(io.StringIO(decode_text(data), newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ResultListError("処理結果一覧表が空です") from None
    missing = [h for h in REQUIRED if h not in header]
    if missing:
        raise ResultListError(f"処理結果一覧表の見出しに {', '.join(missing)} がありません")
    position = {COLUMNS[h]: i for i, h in enumerate(header) if h in COLUMNS}
    lines = []
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        lines.append(_line(number, row, position))
    return lines


def _line(number: int, row: list[str], position: dict[str, int]) -> ResultLine:
    problems: list[str] = []

    def cell(name: str) -> str | None:
        i = position.get(name)
        if i is None or i >= len(row):
            return None
        return row[i].strip() or None

    def dated(name: str) -> date | None:
        text = cell(name)
        if text is None:
            return None
        try:
            return parse_date(text)
        except ValueError:
            problems.append(f"{name}: 日付として読めません")
            return None

    report_id = None
    if (text := cell("report_id")) is not None:
        try:
            report_id = uuid.UUID(text)
        except ValueError:
            problems.append("report_id: 受付番号として読めません")
    pension = cell("basic_pension_number")
    if pension is not None and re.fullmatch(r"[0-9]{10}", pension):
        pension = f"{pension[:4]}-{pension[4:]}"
    kind = cell("report_kind")
    category = cell("insured_category")
    outcome_text = cell("outcome") or ""
    outcome = OUTCOMES.get(outcome_text)
    if outcome is None:
        problems.append("outcome: 処理結果が読めません")
        outcome = "none"
    decision = _coded(cell("decision"), DECISIONS, "decision: 審査結果が読めません", problems)
    approved_tier = _coded(
        unicodedata.normalize("NFKC", cell("approved_tier") or "") or None,
        APPROVED_TIERS,
        "approved_tier: 承認区分が読めません",
        problems,
    )
    if approved_tier is not None and decision != "approved":
        problems.append("approved_tier: 承認区分は審査結果が承認の行にだけ書かれます")
    return ResultLine(
        line_number=number,
        batch_id=cell("batch_id"),
        report_id=report_id,
        atena_number=cell("atena_number"),
        basic_pension_number=pension,
        my_number=cell("my_number"),
        report_kind=_KIND_BY_CODE.get(kind, kind) if kind else None,
        insured_category=_CATEGORY_BY_CODE.get(category, category) if category else None,
        acquired_on=dated("acquired_on"),
        lost_on=dated("lost_on"),
        outcome=outcome,
        result_code=cell("result_code"),
        message=cell("message"),
        processed_on=dated("processed_on"),
        problems=tuple(problems),
        decision=decision,
        approved_tier=approved_tier,
    )


def _coded(text: str | None, codes: dict[str, str], problem: str, problems: list[str]) -> str | None:
    if text is None:
        return None
    if text not in codes:
        problems.append(problem)
        return None
    return codes[text]
