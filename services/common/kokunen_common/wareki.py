"""和暦 (Japanese era calendar) for forms, lists and staff pages: dates printed as 令和8年11月27日 and coded as
the seven digits of JPS forms (元号コード + 年 + 月 + 日).

An era begins on the day its 元号 took effect and the previous era's last day is the day before:
平成 began on 1989-01-08 (昭和64年1月7日 was the last day of 昭和), 令和 on 2019-05-01 (平成31年4月30日 the
last of 平成). 元号法 (昭和54年法律第43号) and the 政令 naming each 元号 fix the dates. The first year of an
era is printed 元年. Dates before 1873-01-01 (明治6年, when the solar calendar was adopted by 明治5年太政官
布告第337号) are lunisolar and are refused rather than converted wrongly.

元号コード follows the forms of 日本年金機構 (生年月日欄: 1.明治 3.大正 5.昭和 7.平成 9.令和).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Era:
    name: str  # 元号
    code: str  # 元号コード (日本年金機構の届書)
    first_day: date  # 改元の日

    @property
    def base_year(self) -> int:
        """The Gregorian year of the era's first year (元年)."""
        return self.first_day.year


MEIJI = Era("明治", "1", date(1868, 10, 23))
TAISHO = Era("大正", "3", date(1912, 7, 30))
SHOWA = Era("昭和", "5", date(1926, 12, 25))
HEISEI = Era("平成", "7", date(1989, 1, 8))
REIWA = Era("令和", "9", date(2019, 5, 1))

ERAS: tuple[Era, ...] = (MEIJI, TAISHO, SHOWA, HEISEI, REIWA)
_BY_CODE = {era.code: era for era in ERAS}
SOLAR_CALENDAR_FROM = date(1873, 1, 1)


class WarekiError(ValueError):
    """A date outside the supported eras, or a 和暦 that names no real day."""


@dataclass(frozen=True)
class Wareki:
    era: Era
    year: int  # 元号の年 (1 = 元年)
    month: int
    day: int

    def __str__(self) -> str:
        year = "元" if self.year == 1 else str(self.year)
        return f"{self.era.name}{year}年{self.month}月{self.day}日"

    @property
    def code(self) -> str:
        """Seven digits: 元号コード, 年 (2), 月 (2), 日 (2) — e.g. 令和8年11月27日 → 9081127."""
        return f"{self.era.code}{self.year:02d}{self.month:02d}{self.day:02d}"

    def to_date(self) -> date:
        return date(self.era.base_year + self.year - 1, self.month, self.day)


def era_of(day: date) -> Era:
    if day < SOLAR_CALENDAR_FROM:
        raise WarekiError("1873年1月1日より前の日付は太陰太陽暦のため変換しません (before the solar calendar)")
    for era in reversed(ERAS):
        if day >= era.first_day:
            return era
    raise AssertionError("unreachable: 明治 begins before the solar calendar")  # pragma: no cover


def to_wareki(day: date) -> Wareki:
    era = era_of(day)
    return Wareki(era, day.year - era.base_year + 1, day.month, day.day)


def from_code(code: str) -> date:
    """The date of a seven-digit 和暦 code; refuses a day outside its era (平成31年5月1日 does not exist)."""
    if len(code) != 7 or not code.isascii() or not code.isdigit():
        raise WarekiError("和暦コードは半角数字7桁です (GYYMMDD)")
    era = _BY_CODE.get(code[0])
    if era is None:
        raise WarekiError(f"元号コード {code[0]} はありません")
    try:
        day = Wareki(era, int(code[1:3]), int(code[3:5]), int(code[5:7])).to_date()
    except ValueError:
        raise WarekiError("存在しない日付です") from None
    if int(code[1:3]) < 1 or era_of(day) is not era:
        raise WarekiError(f"{era.name}の期間外の日付です")
    return day


def wareki_text(day: date) -> str:
    """令和8年11月27日"""
    return str(to_wareki(day))


def both(day: date) -> str:
    """和暦 and 西暦 side by side, as the printed lists show them: 令和8年11月27日 (2026-11-27)."""
    return f"{to_wareki(day)} ({day.isoformat()})"
