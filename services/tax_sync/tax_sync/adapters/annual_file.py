"""The annual run's file (当初賦課の所得情報, once a year in June): CSV, UTF-8 or Shift_JIS (CP932).

One record per line, a header line of the field names (Japanese, as in ＜所得情報＞, or the contract's
English names) in ``domain.fields.FIELDS`` order, 区分 as codes (``CODES``), flags 0/1, dates
YYYY-MM-DD, amounts in whole yen. The last column (一般扶養数のうち16歳以上19歳未満) is optional: a file
whose header stops before it uses the older layout (``LAYOUT_COLUMNS``), and its records leave that number
unknown; in the newer layout an empty cell says the same for one record.

The file is streamed, never held whole: a first pass computes its SHA-256 (importing the same bytes again
is a no-op) and detects the encoding (UTF-8 if every byte decodes as UTF-8, else CP932); the second
checks each line and streams the good ones by COPY into the staging table, then ``apply_staged`` applies
them — the same SQL as the Kafka path — and the whole file commits at once: an interrupted import leaves
nothing behind and can simply be run again. Each bad line goes to the reject report with its line number
and the rule it breaks (never the value), and nothing of it is applied.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import asyncpg
from kokunen_common.logs import get_logger
from kokunen_common.telemetry import tracer

from ..domain.fields import CODE_OF, CODES, FIELDS, INDEX, JAPANESE, LAYOUT_COLUMNS, MAX_COUNT, MAX_SEQ, NAMES, Kind
from ..domain.income import AssessmentError, check_years
from .repository import APPLY_LOCK, STAGING_COLUMNS, ApplyResult, apply_staged, ensure_staging

log = get_logger(__name__)

CHUNK_LINES = 20_000
"""Lines per COPY data chunk: large enough to keep PostgreSQL busy, small enough to bound memory."""

_DIGITS = re.compile(r"[0-9]+")
_SIGNED = re.compile(r"-?[0-9]+")
_DECIMAL = re.compile(r"-?[0-9]*[.,][0-9]*|-?[0-9]+(?:\.[0-9]+)?[eE][+-]?[0-9]+")

_FAST_PATTERN = {
    Kind.ATENA: "[0-9]{1,15}",
    Kind.YEAR: "([0-9]{4})",
    Kind.DATE: "([0-9]{4}-[0-9]{2}-[0-9]{2})",
    Kind.SEQ: "[0-9]{1,4}",
    Kind.COUNT: "[0-9]{1,2}",
    Kind.OPTIONAL_COUNT: "[0-9]{0,2}",
    Kind.YEN: "[0-9]{1,12}",
    Kind.SIGNED_YEN: "-?[0-9]{1,12}",
    Kind.FLAG: "[01]",
    Kind.CODE: "([0-9])",
}
_FAST = re.compile(",".join(_FAST_PATTERN[f.kind] for f in FIELDS))
"""A well-formed line in one regular expression (C speed); anything else takes the careful path."""
_CODE_SETS = [CODES[f.name] for f in FIELDS if f.kind is Kind.CODE]
assert [f.kind for f in FIELDS[1:4]] == [Kind.YEAR, Kind.YEAR, Kind.DATE]


class FileRejected(Exception):
    """The file as a whole cannot be read (wrong header, not CSV): nothing is applied."""


@dataclass(frozen=True)
class FileFacts:
    path: Path
    digest: str
    encoding: str
    size: int


@dataclass
class ImportReport:
    file: FileFacts
    already_imported: bool = False
    lines: int = 0
    rejected: int = 0
    result: ApplyResult = field(default_factory=lambda: ApplyResult(0, 0, 0))
    reject_report: Path | None = None
    rejects_by_class: dict[str, int] = field(default_factory=dict)
    indexes_built_after: bool = False  # into an empty slice: its indexes built after the rows (migration 0003)


def inspect(path: Path) -> FileFacts:
    """Digest and encoding in one streaming pass."""
    sha = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8 = True
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            size += len(chunk)
            sha.update(chunk)
            if utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
        if utf8:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                utf8 = False
    return FileFacts(path, sha.hexdigest(), "utf-8-sig" if utf8 else "cp932", size)


def check_cells(cells: list[str], columns: int = len(FIELDS)) -> str:
    """One record of a file with ``columns`` columns (its layout) checked field by field: its staging text (every
    field, those the layout lacks empty, joined by commas), or ``AssessmentError`` naming the first rule it
    breaks."""
    if len(cells) != columns:
        raise AssessmentError(f"malformed row: expected {columns} columns, found {len(cells)}", "malformed")
    cells = cells + [""] * (len(FIELDS) - columns)
    years: dict[str, int] = {}
    assessed_on: date | None = None
    for f, cell in zip(FIELDS, cells, strict=True):
        label = f"{f.japanese} ({f.name})"
        if f.kind is Kind.ATENA:
            if not cell.strip():
                raise AssessmentError(f"{label} is missing", "missing_atena")
            if not _DIGITS.fullmatch(cell) or len(cell) > 15:
                raise AssessmentError(f"{label} must be 1–15 ASCII digits", "invalid_value")
        elif f.kind is Kind.YEAR:
            if not _DIGITS.fullmatch(cell) or len(cell) != 4:
                raise AssessmentError(f"{label} is not a year (4 ASCII digits)", "unknown_year")
            years[f.name] = int(cell)
        elif f.kind is Kind.DATE:
            try:
                if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", cell):
                    raise ValueError
                assessed_on = date.fromisoformat(cell)
            except ValueError:
                raise AssessmentError(f"{label} is not a date (YYYY-MM-DD)", "invalid_value") from None
        elif f.kind is Kind.SEQ:
            if not _DIGITS.fullmatch(cell) or int(cell) > MAX_SEQ:
                raise AssessmentError(f"{label} must be a whole number 0–{MAX_SEQ}", "invalid_value")
        elif f.kind is Kind.COUNT:
            if _SIGNED.fullmatch(cell) and cell.startswith("-"):
                raise AssessmentError(f"{label} is a negative count", "negative_count")
            if not _DIGITS.fullmatch(cell) or int(cell) > MAX_COUNT:
                raise AssessmentError(f"{label} must be a whole number of persons 0–{MAX_COUNT}", "invalid_value")
        elif f.kind is Kind.OPTIONAL_COUNT and cell:
            if not _DIGITS.fullmatch(cell) or int(cell) > MAX_COUNT:
                raise AssessmentError(
                    f"{label} must be empty or a whole number of persons 0–{MAX_COUNT}", "invalid_value"
                )
        elif f.kind in (Kind.YEN, Kind.SIGNED_YEN):
            if _DECIMAL.fullmatch(cell):
                raise AssessmentError(f"{label} is not whole yen (a decimal amount)", "non_integer_yen")
            if not _SIGNED.fullmatch(cell):
                raise AssessmentError(f"{label} is not whole yen (not an integer)", "non_integer_yen")
            if cell.startswith("-") and f.kind is Kind.YEN:
                raise AssessmentError(f"{label} must not be negative", "invalid_value")
            if len(cell.lstrip("-")) > 12:
                raise AssessmentError(f"{label} is out of range", "invalid_value")
        elif f.kind is Kind.FLAG:
            if cell not in ("0", "1"):
                raise AssessmentError(f"{label} must be 0 or 1", "invalid_value")
        elif f.kind is Kind.CODE and cell not in CODES[f.name]:
            raise AssessmentError(f"{label} must be one of the codes {', '.join(CODES[f.name])}", "invalid_value")
    assert assessed_on is not None
    check_years(years["tax_year"], years["income_year"], assessed_on)
    _check_aged_16_to_18(cells)
    return ",".join(cells)


_GENERAL = INDEX["general_dependants"]
_AGED_16_TO_18 = INDEX["general_dependants_aged_16_to_18"]


def _check_aged_16_to_18(cells: list[str]) -> None:
    """16〜18歳 are counted within 一般扶養数 (as the contract says): never more than it."""
    aged = cells[_AGED_16_TO_18]
    if aged and int(aged) > int(cells[_GENERAL]):
        raise AssessmentError(
            f"{FIELDS[_AGED_16_TO_18].japanese} must not exceed {FIELDS[_GENERAL].japanese}", "invalid_value"
        )


def _fast(line: str) -> str | None:
    """The line itself when it is plainly valid, else None (then ``check_cells`` says why, or accepts it)."""
    match = _FAST.fullmatch(line)
    if match is None:
        return None
    tax_year, income_year, assessed, *codes = match.groups()
    for code, allowed in zip(codes, _CODE_SETS, strict=True):
        if code not in allowed:
            return None
    try:
        check_years(int(tax_year), int(income_year), date.fromisoformat(assessed))
        if not line.endswith(","):  # 16〜18歳 given: within 一般扶養数
            _check_aged_16_to_18(line.split(","))
    except (ValueError, AssessmentError):
        return None
    return line


def format_line(values: dict[str, object]) -> str:
    """One line of the annual file from contract-named values (区分 as their codes, flags as 0/1, an optional
    count absent or None as an empty cell): what the tax system writes, for the demo, the tests and the
    benchmark."""
    cells = []
    for f in FIELDS:
        value = values.get(f.name) if f.kind is Kind.OPTIONAL_COUNT else values[f.name]
        if value is None:
            value = ""
        elif f.kind is Kind.CODE:
            value = CODE_OF[f.name][str(value)]
        elif f.kind is Kind.FLAG:
            value = "1" if value else "0"
        cells.append(str(value))
    return ",".join(cells)


def read_header(first_line: str) -> int:
    """The file's layout from its header: its number of columns (``LAYOUT_COLUMNS``)."""
    cells = tuple(next(csv.reader([first_line])))
    for columns in LAYOUT_COLUMNS:
        if cells in (JAPANESE[:columns], NAMES[:columns]):
            return columns
    raise FileRejected(
        "header: expected the columns " + ",".join(JAPANESE) + f" (or their English names; the last may be left "
        f"out); found {len(cells)} columns that do not match"
    )


@dataclass
class _Scan:
    """The second pass: good lines as COPY chunks, bad lines to the reject report."""

    facts: FileFacts
    report: csv.DictWriter[str] | None
    lines: int = 0
    rejected: int = 0
    by_class: dict[str, int] = field(default_factory=dict)

    def chunks(self) -> Iterator[bytes]:
        with self.facts.path.open("r", encoding=self.facts.encoding, newline="") as f:
            header_seen = False
            columns = len(FIELDS)
            padding = ""  # the older layout's records: the optional last field empty (unknown)
            parts: list[str] = []
            for number, raw in enumerate(f, start=1):
                line = raw.rstrip("\r\n")
                if not line:
                    continue  # blank lines (e.g. at the end) carry nothing
                if not header_seen:
                    columns = read_header(line)
                    padding = "," * (len(FIELDS) - columns)
                    header_seen = True
                    continue
                self.lines += 1
                text = _fast(line + padding) if '"' not in line else None
                if text is None:
                    try:
                        text = check_cells(next(csv.reader([line])), columns)
                    except AssessmentError as exc:
                        self._reject(number, exc.error_class, exc.reason)
                        continue
                    except csv.Error:
                        self._reject(number, "malformed", "malformed row: not valid CSV")
                        continue
                parts.append(f"{number},{text}\n")
                if len(parts) >= CHUNK_LINES:
                    yield "".join(parts).encode()
                    parts.clear()
            if not header_seen:
                raise FileRejected("the file is empty: no header line")
            if parts:
                yield "".join(parts).encode()

    def _reject(self, line: int, error_class: str, reason: str) -> None:
        self.rejected += 1
        self.by_class[error_class] = self.by_class.get(error_class, 0) + 1
        if self.report is not None:
            self.report.writerow({"line": line, "error_class": error_class, "reason": reason})


async def _aiter(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def default_report_path(path: Path) -> Path:
    return path.with_name(path.name + ".rejects.csv")


async def import_file(
    conn: asyncpg.Connection, path: Path, *, report_path: Path | None = None, file_name: str | None = None
) -> ImportReport:
    """Import one annual file (idempotent by its digest); returns what happened."""
    facts = inspect(path)
    report = ImportReport(facts)
    with tracer().start_as_current_span("tax annual-file import", attributes={"kokunen.file.bytes": facts.size}):
        async with conn.transaction():
            # Two imports of the same file at once: the second waits, then finds it imported.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"tax.import {facts.digest}")
            if await conn.fetchval("SELECT 1 FROM tax.imported_file WHERE digest = $1", facts.digest):
                report.already_imported = True
                return report
            file_id: int = await conn.fetchval(
                "INSERT INTO tax.imported_file (digest, file_name, encoding, lines, applied, unchanged, rejected) "
                "VALUES ($1, $2, $3, 0, 0, 0, 0) RETURNING id",
                facts.digest,
                file_name or path.name,
                "utf-8" if facts.encoding == "utf-8-sig" else facts.encoding,
            )
            await ensure_staging(conn)
            if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM tax.income_assessment)"):
                # Into an empty slice (the first year's file): its indexes are built once after the rows
                # (migration 0003), the slice locked meanwhile. The apply lock first: the order every applier
                # takes the two in (otherwise a Kafka batch holding it would deadlock with us).
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", APPLY_LOCK)
                report.indexes_built_after = await conn.fetchval("SELECT tax.set_aside_income_indexes()")
            report.reject_report = report_path or default_report_path(path)
            with report.reject_report.open("w", encoding="utf-8", newline="") as out:
                writer = csv.DictWriter(out, fieldnames=["line", "error_class", "reason"])
                writer.writeheader()
                scan = _Scan(facts, writer)
                await conn.copy_to_table(
                    "income_in", source=_aiter(scan.chunks()), columns=STAGING_COLUMNS[:-2], format="csv"
                )
            report.lines, report.rejected, report.rejects_by_class = scan.lines, scan.rejected, scan.by_class
            report.result = await apply_staged(conn, source_file=file_id, large=True)
            if report.indexes_built_after:
                await conn.execute("SELECT tax.restore_income_indexes()")
            await conn.execute("SELECT pg_notify('tax_imported_file', $1)", str(file_id))  # wakes the file relay
            await conn.execute(
                "UPDATE tax.imported_file SET lines = $2, applied = $3, unchanged = $4, rejected = $5 WHERE id = $1",
                file_id,
                report.lines,
                report.result.applied,
                report.result.unchanged,
                report.rejected,
            )
    log.info(
        "annual file imported",
        file=report.file.path.name,
        encoding=facts.encoding,
        lines=report.lines,
        applied=report.result.applied,
        unchanged=report.result.unchanged,
        rejected=report.rejected,
    )
    return report
