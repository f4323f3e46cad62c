"""The 進達 medium's record layout: fixed-length records of 600 bytes in CP932 (Shift_JIS as Windows
writes it), the form the pension office's systems read.

A file is one header record (``H``), data records (``D``, one per report, in order) and one trailer
record (``T``) with the counts. Each record is 598 bytes of fields and CRLF. Text is left-aligned and
padded with half-width spaces; a text that is too long is cut on a character boundary (never through
a double-byte character); a character CP932 cannot write becomes 〓 (ゲタ), as legacy systems print it.
Dates are written twice: the 和暦 code (GYYMMDD, see ``wareki``) and the 西暦 (YYYYMMDD).

Every data column names the policy field it carries (``source``), so the layout itself proves that
nothing outside the jps policy is written (see ``data_fields``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from . import wareki

ENCODING = "cp932"
RECORD_LENGTH = 600
EOL = b"\r\n"
BODY_LENGTH = RECORD_LENGTH - len(EOL)
GETA = "〓"


class Kind(StrEnum):
    ASCII = "X"  # 半角英数字 (left-aligned, space-padded)
    NUMBER = "9"  # 数字 (right-aligned, zero-padded)
    TEXT = "N"  # 全角を含む文字 (CP932, left-aligned, space-padded, cut on a character boundary)


@dataclass(frozen=True)
class Column:
    name: str
    label: str  # 項目名
    length: int  # バイト数
    kind: Kind = Kind.ASCII
    source: str | None = None  # the policy field this column carries (None: file structure only)


@dataclass(frozen=True)
class Layout:
    record_type: str
    columns: tuple[Column, ...]

    def __post_init__(self) -> None:
        used = sum(c.length for c in self.columns)
        if used > BODY_LENGTH:
            raise ValueError(f"layout {self.record_type} is {used} bytes, more than {BODY_LENGTH}")

    @property
    def filler(self) -> int:
        return BODY_LENGTH - sum(c.length for c in self.columns)


def _dates(name: str, label: str) -> tuple[Column, Column]:
    return (
        Column(f"{name}_wareki", f"{label} (和暦)", 7, Kind.NUMBER, source=name),
        Column(name, f"{label} (西暦)", 8, Kind.NUMBER, source=name),
    )


HEADER = Layout(
    "H",
    (
        Column("record_type", "レコード種別", 1),
        Column("batch_id", "送付番号", 40),
        Column("batch_kind", "送付区分 (W 週次進達 / I 照会回答)", 1),
        Column("period", "対象期間", 20),
        *_dates("created_on", "作成年月日"),
        Column("sender_code", "送付元 地方公共団体コード", 6, Kind.NUMBER),
        Column("sender_name", "送付元", 40, Kind.TEXT),
        Column("recipient", "送付先", 40, Kind.TEXT),
        Column("record_length", "レコード長", 4, Kind.NUMBER),
        Column("inquiry_id", "照会番号", 40),
    ),
)

DATA = Layout(
    "D",
    (
        Column("record_type", "レコード種別", 1),
        Column("seq", "連番", 7, Kind.NUMBER),
        Column("report_kind", "届書種別コード", 2, Kind.NUMBER, source="report_kind"),
        Column("report_id", "受付番号", 36, source="report_id"),
        *_dates("received_on", "受付年月日"),
        Column("my_number", "個人番号", 12, source="my_number"),
        Column("basic_pension_number", "基礎年金番号", 10, source="basic_pension_number"),
        Column("atena_number", "宛名番号", 15, source="atena_number"),
        Column("name", "氏名", 60, Kind.TEXT, source="name"),
        Column("name_kana", "氏名カナ", 60, Kind.TEXT, source="name_kana"),
        Column("sex", "性別 (1 男 / 2 女)", 1, source="sex"),
        *_dates("birth_date", "生年月日"),
        Column("postal_code", "郵便番号", 7, source="postal_code"),
        Column("address", "住所", 120, Kind.TEXT, source="address"),
        Column("insured_category", "被保険者種別", 1, source="insured_category"),
        *_dates("acquired_on", "資格取得年月日"),
        Column("acquisition_reason", "資格取得事由コード", 2, Kind.NUMBER, source="acquisition_reason"),
        *_dates("lost_on", "資格喪失年月日"),
        Column("loss_reason", "資格喪失事由コード", 2, Kind.NUMBER, source="loss_reason"),
        Column("exemption_kind", "免除等の種類コード", 2, Kind.NUMBER, source="exemption_kind"),
        *_dates("exemption_from", "免除等の期間 始期"),
        *_dates("exemption_to", "免除等の期間 終期"),
        Column("pension_code", "年金コード", 4, source="pension_code"),
        Column("replaces_report_id", "訂正対象の受付番号", 36, source="replaces_report_id"),
        # Added after the others (their positions unchanged): the city's 所得審査 of an 免除等申請.
        Column("screening_outcome", "所得審査結果 (1 該当 / 2 非該当 / 3 所得不明)", 1, source="screening_outcome"),
    ),
)

TRAILER = Layout(
    "T",
    (
        Column("record_type", "レコード種別", 1),
        Column("record_count", "データレコード件数", 7, Kind.NUMBER),
    ),
)


def data_fields() -> frozenset[str]:
    """The policy fields a data record carries: the jps policy must list every one of them."""
    return frozenset(c.source for c in DATA.columns if c.source is not None)


# --- codes ------------------------------------------------------------------------------------------

REPORT_KIND_CODES = {
    "qualification_acquisition": "01",  # 資格取得届
    "qualification_loss": "02",  # 資格喪失届
    "category_change": "03",  # 種別変更届
    "name_change": "04",  # 氏名変更届
    "address_change": "05",  # 住所変更届
    "record_correction": "06",  # 被保険者記録の訂正
    "additional_premium_application": "07",  # 付加保険料納付申出
    "additional_premium_withdrawal": "08",  # 付加保険料納付辞退
    "pension_number_notice_reissue": "09",  # 基礎年金番号通知書再交付申請
    "exemption_application": "10",  # 免除・納付猶予・学生納付特例申請
    "statutory_exemption": "11",  # 法定免除届
    "benefit_claim": "12",  # 裁定請求
    "not_found": "99",  # 照会回答: 該当なし
}
REPORT_KIND_LABELS = {
    "qualification_acquisition": "資格取得届",
    "qualification_loss": "資格喪失届",
    "category_change": "種別変更届",
    "name_change": "氏名変更届",
    "address_change": "住所変更届",
    "record_correction": "記録訂正",
    "additional_premium_application": "付加保険料納付申出",
    "additional_premium_withdrawal": "付加保険料納付辞退",
    "pension_number_notice_reissue": "基礎年金番号通知書再交付申請",
    "exemption_application": "保険料免除・納付猶予申請",
    "statutory_exemption": "法定免除届",
    "benefit_claim": "年金裁定請求",
    "not_found": "該当なし",
}
CATEGORY_CODES = {"category_1": "1", "category_2": "2", "category_3": "3", "voluntary": "4"}
CATEGORY_LABELS = {"category_1": "第1号", "category_2": "第2号", "category_3": "第3号", "voluntary": "任意加入"}
SEX_CODES = {"male": "1", "female": "2"}
ACQUISITION_REASON_CODES = {
    "reached_20": "01",
    "moved_in_from_abroad": "02",
    "ceased_exclusion": "03",
    "left_category_2": "04",
    "left_category_3": "05",
    "voluntary_application": "06",
    "filed": "07",
}
LOSS_REASON_CODES = {
    "death": "01",
    "moved_abroad": "02",
    "reached_60": "03",
    "became_excluded": "04",
    "became_category_2": "05",
    "became_category_3": "06",
    "reached_65": "07",
    "reached_480_months": "08",
    "withdrew": "09",
    "filed": "10",
}
EXEMPTION_KIND_CODES = {
    "全額免除": "01",
    "4分の3免除": "02",
    "半額免除": "03",
    "4分の1免除": "04",
    "納付猶予": "05",
    "学生納付特例": "06",
}
OTHER_EXEMPTION = "99"
SCREENING_OUTCOME_CODES = {
    "passed": "1",  # 該当: 免除等の種類 is the tier that passed
    "failed": "2",  # 非該当: no tier passed; 免除等の種類 is the one applied for
    "income_unknown": "3",  # 所得不明: a person's income not yet known; 免除等の種類 is the one applied for
}
SCREENING_OUTCOME_LABELS = {"passed": "該当", "failed": "非該当", "income_unknown": "所得不明"}
"""The same result as the printed 受付処理簿 shows it."""


class LayoutError(ValueError):
    """A value that does not fit its column (the message names the column, never the value)."""


# --- encoding ---------------------------------------------------------------------------------------


def cp932_text(value: str, length: int) -> bytes:
    """``value`` in CP932, cut on a character boundary to ``length`` bytes, padded with spaces."""
    out = bytearray()
    for char in value:
        try:
            encoded = char.encode(ENCODING)
        except UnicodeEncodeError:
            encoded = GETA.encode(ENCODING)
        if len(out) + len(encoded) > length:
            break
        out += encoded
    return bytes(out) + b" " * (length - len(out))


def _field(column: Column, value: str) -> bytes:
    if column.kind is Kind.TEXT:
        return cp932_text(value, column.length)
    if not value.isascii():
        raise LayoutError(f"{column.label} ({column.name}) takes half-width characters only")
    if len(value) > column.length:
        raise LayoutError(f"{column.label} ({column.name}) is longer than {column.length} bytes")
    if column.kind is Kind.NUMBER:
        if value and not value.isdigit():
            raise LayoutError(f"{column.label} ({column.name}) takes digits only")
        return value.rjust(column.length, "0").encode("ascii") if value else b" " * column.length
    return value.ljust(column.length).encode("ascii")


def encode(layout: Layout, values: Mapping[str, str]) -> bytes:
    """One record: every column from ``values`` (absent = blank), filler, CRLF."""
    parts = [
        _field(c, layout.record_type if c.name == "record_type" else values.get(c.name, "")) for c in layout.columns
    ]
    record = b"".join(parts) + b" " * layout.filler + EOL
    assert len(record) == RECORD_LENGTH
    return record


def decode(layout: Layout, record: bytes) -> dict[str, str]:
    """The columns of one record as text (trailing spaces removed)."""
    if len(record) != RECORD_LENGTH or not record.endswith(EOL):
        raise LayoutError(f"a record is {RECORD_LENGTH} bytes ending in CRLF (got {len(record)})")
    values: dict[str, str] = {}
    at = 0
    for column in layout.columns:
        raw = record[at : at + column.length]
        at += column.length
        values[column.name] = raw.decode(ENCODING).rstrip(" ")
    if values["record_type"] != layout.record_type:
        raise LayoutError(f"expected a {layout.record_type} record, got {values['record_type']!r}")
    return values


def split_records(data: bytes) -> list[bytes]:
    if len(data) % RECORD_LENGTH:
        raise LayoutError(f"a medium file is a whole number of {RECORD_LENGTH}-byte records")
    return [data[i : i + RECORD_LENGTH] for i in range(0, len(data), RECORD_LENGTH)]


@dataclass(frozen=True)
class MediumFile:
    header: dict[str, str]
    records: list[dict[str, str]]
    trailer: dict[str, str]


def parse_file(data: bytes) -> MediumFile:
    """Header, data records and trailer; the trailer's count must match."""
    records = split_records(data)
    if len(records) < 2:
        raise LayoutError("a medium file has at least a header and a trailer")
    header = decode(HEADER, records[0])
    trailer = decode(TRAILER, records[-1])
    body = [decode(DATA, r) for r in records[1:-1]]
    if int(trailer["record_count"]) != len(body):
        raise LayoutError(f"trailer counts {int(trailer['record_count'])} records, the file holds {len(body)}")
    return MediumFile(header, body, trailer)


def date_columns(name: str, value: date | None) -> dict[str, str]:
    if value is None:
        return {name: "", f"{name}_wareki": ""}
    return {name: value.strftime("%Y%m%d"), f"{name}_wareki": wareki.to_wareki(value).code}


def data_values(seq: int, payload: Mapping[str, Any]) -> dict[str, str]:
    """The columns of one data record from a policy payload (exactly the jps policy's fields)."""

    def text(name: str) -> str:
        value = payload.get(name)
        return "" if value is None else str(value)

    def coded(name: str, table: Mapping[str, str], other: str | None = None) -> str:
        value = payload.get(name)
        if value is None:
            return ""
        code = table.get(str(value), other)
        if code is None:
            raise LayoutError(f"{name} has no code in the layout")
        return code

    values = {
        "seq": str(seq),
        "report_kind": coded("report_kind", REPORT_KIND_CODES),
        "report_id": text("report_id"),
        "my_number": text("my_number"),
        "basic_pension_number": text("basic_pension_number").replace("-", ""),
        "atena_number": text("atena_number"),
        "name": text("name"),
        "name_kana": text("name_kana"),
        "sex": coded("sex", SEX_CODES),
        "postal_code": text("postal_code").replace("-", ""),
        "address": text("address"),
        "insured_category": coded("insured_category", CATEGORY_CODES),
        "acquisition_reason": coded("acquisition_reason", ACQUISITION_REASON_CODES),
        "loss_reason": coded("loss_reason", LOSS_REASON_CODES),
        "exemption_kind": coded("exemption_kind", EXEMPTION_KIND_CODES, OTHER_EXEMPTION),
        "pension_code": text("pension_code"),
        "replaces_report_id": text("replaces_report_id"),
        "screening_outcome": coded("screening_outcome", SCREENING_OUTCOME_CODES),
    }
    for name in ("received_on", "birth_date", "acquired_on", "lost_on", "exemption_from", "exemption_to"):
        values.update(date_columns(name, payload.get(name)))
    return values


def build_file(header: Mapping[str, str], payloads: Sequence[Mapping[str, Any]]) -> bytes:
    """Header, one data record per payload (連番 from 1), trailer."""
    parts = [encode(HEADER, {**header, "record_length": str(RECORD_LENGTH)})]
    parts += [encode(DATA, data_values(seq, p)) for seq, p in enumerate(payloads, start=1)]
    parts.append(encode(TRAILER, {"record_count": str(len(payloads))}))
    return b"".join(parts)
