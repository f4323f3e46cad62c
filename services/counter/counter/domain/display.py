"""What a page shows about a person: 4情報 and address, dates in 和暦 and 西暦, My Number masked, and the address
withheld under 処理停止 (DV等支援措置) unless the staff member's role allows it (``staff.POLICY``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from kokunen_common.wareki import WarekiError, wareki_text

from .staff import Permission, Staff

MY_NUMBER_MASK = "●●●● ●●●● ●●●●"  # the same twelve marks for everyone: nothing of the number leaks
ADDRESS_WITHHELD = "（処理停止中のため表示しません）"
SEX_LABELS = {"male": "男", "female": "女", "1": "男", "2": "女", "unknown": "不明"}


def both_dates(day: date | None) -> str:
    """令和8年11月27日 (2026-11-27); the 西暦 alone before the solar calendar (never a wrong 和暦)."""
    if day is None:
        return ""
    try:
        return f"{wareki_text(day)} ({day.isoformat()})"
    except WarekiError:
        return day.isoformat()


@dataclass(frozen=True)
class ShownPerson:
    """The 4情報 (氏名・生年月日・性別・住所) as one staff member sees them, and the 宛名番号."""

    atena_number: str
    name: str
    name_kana: str
    birth_date: date
    sex: str
    address: str
    suspended: bool

    @property
    def birth_date_text(self) -> str:
        return both_dates(self.birth_date)

    def log_form(self) -> dict[str, Any]:
        """As the access log keeps it: exactly what was on the screen."""
        return {
            "宛名番号": self.atena_number,
            "氏名": self.name,
            "生年月日": self.birth_date.isoformat(),
            "性別": self.sex,
            "住所": self.address,
            "処理停止": self.suspended,
        }


def show_person(row: Mapping[str, Any], staff: Staff, *, with_address: bool = True) -> ShownPerson:
    address = row["address"] if isinstance(row["address"], Mapping) else {}
    text = str(address.get("text", ""))
    if row["suspended"] and not staff.may(Permission.SEE_SUSPENDED_ADDRESS):
        text = ADDRESS_WITHHELD
    return ShownPerson(
        atena_number=row["atena_number"],
        name=row["name"],
        name_kana=row["name_kana"] or "",
        birth_date=row["birth_date"],
        sex=SEX_LABELS.get(str(row["sex"]), str(row["sex"])),
        address=text if with_address else "",
        suspended=bool(row["suspended"]),
    )


def format_my_number(number: str) -> str:
    """1234 5678 9012, as the 個人番号カード prints it."""
    return f"{number[0:4]} {number[4:8]} {number[8:12]}"


def yen(value: object) -> str:
    return f"{int(str(value)):,}円"


def dependants_text(figures: Mapping[str, Any]) -> str:
    """扶養親族の数 as the income screening counts them: 一般 (of whom 16〜18歳, deducted 63万円 like 特定扶養親族
    under 施行令6条の9ほか; 不明 when the tax system did not give it — the screening then says its limit may be too
    low), 老人, 特定, 年少 (under 16)."""
    general = figures.get("general_dependants") or 0
    aged_16_to_18 = figures.get("general_dependants_aged_16_to_18")
    of_whom = f" (うち16〜18歳 {'不明' if aged_16_to_18 is None else aged_16_to_18})" if general else ""
    return (
        f"一般 {general}{of_whom}・老人 {figures.get('elderly_dependants') or 0}・"
        f"特定 {figures.get('specified_dependants') or 0}・年少 {figures.get('young_dependants') or 0}"
    )
