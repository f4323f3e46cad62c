"""照会の検索条件: by 宛名番号, by カナ氏名 + 生年月日, or by 基礎年金番号 — checked here, so that the page and the
server refuse the same input with the same Japanese message beside the field it concerns."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from kokunen_common.wareki import ERAS, Wareki, WarekiError, era_of

FIELD_MAX = 60  # longer than any 宛名番号, 基礎年金番号, カナ氏名 or date: anything past it is refused, not cut
ATENA = re.compile(r"^[0-9]{1,15}$")
PENSION = re.compile(r"^([0-9]{4})-?([0-9]{6})$")
KANA = re.compile(r"^[\u30A1-\u30FA\u30FC]+$")  # 全角カタカナ and ー, after normalisation
ISO_DATE = re.compile(r"^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})$")
WAREKI_DATE = re.compile(
    r"^(明治|大正|昭和|平成|令和|[MTSHR])\s*(元|[0-9]{1,2})[年./-]([0-9]{1,2})[月./-]([0-9]{1,2})日?$"
)
ERA_LETTERS = {"M": "明治", "T": "大正", "S": "昭和", "H": "平成", "R": "令和"}


class SearchKind(StrEnum):
    ATENA = "atena"  # 宛名番号
    KANA_BIRTH = "kana_birth"  # カナ氏名 + 生年月日
    PENSION = "pension"  # 基礎年金番号


@dataclass(frozen=True)
class SearchQuery:
    kind: SearchKind
    atena_number: str | None = None
    kana_key: str | None = None
    birth_date: date | None = None
    basic_pension_number: str | None = None

    def describe(self) -> str:
        """The conditions as the access log keeps them."""
        if self.kind is SearchKind.ATENA:
            return f"宛名番号={self.atena_number}"
        if self.kind is SearchKind.PENSION:
            return f"基礎年金番号={self.basic_pension_number}"
        assert self.birth_date is not None
        return f"カナ氏名={self.kana_key} 生年月日={self.birth_date.isoformat()}"


@dataclass
class SearchRefused(ValueError):
    """Field → Japanese message, for each field that is wrong."""

    errors: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return "; ".join(self.errors.values())


def normalise(text: str) -> str:
    """NFKC (全角数字・半角カナ → 半角数字・全角カナ) and trimmed."""
    return unicodedata.normalize("NFKC", text).strip()


def kana_key(text: str) -> str:
    """The search key of a カナ氏名: katakana (ひらがな converted), no spaces or middle dots."""
    folded = normalise(text)
    folded = "".join(chr(ord(c) + 0x60) if "\u3041" <= c <= "\u3096" else c for c in folded)
    return re.sub(r"[\s\u3000・･]", "", folded)


def parse_birth_date(text: str) -> date:
    """西暦 (2026-11-27, as the date field sends it) or 和暦 (昭和45年1月2日, S45.1.2)."""
    value = normalise(text)
    iso = ISO_DATE.match(value)
    try:
        if iso:
            return date(int(iso[1]), int(iso[2]), int(iso[3]))
        wareki = WAREKI_DATE.match(value)
        if wareki:
            era_name = ERA_LETTERS.get(wareki[1], wareki[1])
            era = next(e for e in ERAS if e.name == era_name)
            year = 1 if wareki[2] == "元" else int(wareki[2])
            day = Wareki(era, year, int(wareki[3]), int(wareki[4])).to_date()
            if year < 1 or era_of(day) is not era:
                raise ValueError(f"{era.name}の期間外の日付です")
            return day
    except (ValueError, WarekiError) as exc:
        raise ValueError(f"存在しない日付です ({exc})" if "期間外" in str(exc) else "存在しない日付です") from None
    raise ValueError("生年月日は 1970-01-02 (西暦) または 昭和45年1月2日 (和暦) の形で入力してください")


def parse_search(
    atena_number: str | None, kana_name: str | None, birth_date: str | None, basic_pension_number: str | None
) -> SearchQuery:
    """Exactly one way of searching, each field valid; else ``SearchRefused`` naming every wrong field."""
    given = {
        "atena_number": atena_number or "",
        "kana_name": kana_name or "",
        "birth_date": birth_date or "",
        "basic_pension_number": basic_pension_number or "",
    }
    errors = {name: "入力が長すぎます (60文字以内)" for name, value in given.items() if len(value) > FIELD_MAX}
    if errors:
        raise SearchRefused(errors)
    atena, kana, birth, pension = (normalise(v) for v in given.values())
    ways = [w for w, filled in ((SearchKind.ATENA, atena), (SearchKind.PENSION, pension)) if filled]
    if kana or birth:
        ways.append(SearchKind.KANA_BIRTH)
    if not ways:
        raise SearchRefused({"atena_number": "宛名番号、カナ氏名と生年月日、基礎年金番号のいずれかを入力してください"})
    if len(ways) > 1:
        raise SearchRefused(
            {"atena_number": "検索条件は1種類だけ入力してください (宛名番号、カナ氏名＋生年月日、基礎年金番号)"}
        )
    kind = ways[0]
    if kind is SearchKind.ATENA:
        if not ATENA.match(atena):
            raise SearchRefused({"atena_number": "宛名番号は半角数字15桁以内で入力してください"})
        return SearchQuery(kind, atena_number=atena)
    if kind is SearchKind.PENSION:
        found = PENSION.match(pension)
        if not found:
            raise SearchRefused(
                {"basic_pension_number": "基礎年金番号は 1234-567890 の形 (数字10桁) で入力してください"}
            )
        return SearchQuery(kind, basic_pension_number=f"{found[1]}-{found[2]}")
    key = kana_key(kana)
    if not key:
        errors["kana_name"] = "カナ氏名を入力してください"
    elif not KANA.match(key):
        errors["kana_name"] = "カナ氏名はカタカナまたはひらがなで入力してください"
    parsed: date | None = None
    if not birth:
        errors["birth_date"] = "生年月日を入力してください"
    else:
        try:
            parsed = parse_birth_date(birth)
        except ValueError as exc:
            errors["birth_date"] = str(exc)
    if errors:
        raise SearchRefused(errors)
    return SearchQuery(kind, kana_key=key, birth_date=parsed)
