"""Age (年齢) as the law counts it: 年齢計算ニ関スル法律 and 民法143条.

Age is counted from the day of birth (初日算入, 年齢計算ニ関スル法律1項), and a year of life ends at the end of
the day before the anniversary of birth (民法143条2項). So a person "reaches" age N (N歳に達する) on the
day **before** the Nth birthday: born 1 April → reaches every age on 31 March. Where the anniversary does
not exist (born 29 February, non-leap year) the period ends on the last day of the month (民法143条2項
ただし書): 28 February. In leap years the day before 29 February is again 28 February, so a person born
on 29 February reaches every age on 28 February.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import TypeVar

from .parameters import DatedTable, NotInForceError

T = TypeVar("T")
_LEAP_DAY = (2, 29)


def age_reached_on(birth: date, age: int) -> date:
    """年齢到達日 (day a person reaches ``age``): the day before the ``age``-th birthday.

    年齢計算ニ関スル法律 + 民法143条. Age 0 is held from the day of birth itself.
    """
    if age < 0:
        raise ValueError(f"age must not be negative: {age}")
    if age == 0:
        return birth
    if (birth.month, birth.day) == _LEAP_DAY:
        # 民法143条2項ただし書 in non-leap years, the day before 29 Feb in leap years: 28 Feb either way.
        return date(birth.year + age, 2, 28)
    return date(birth.year + age, birth.month, birth.day) - timedelta(days=1)


def age_on(birth: date, on: date) -> int:
    """満年齢 (age in completed years) on ``on``.

    年齢計算ニ関スル法律: a person is N on and after ``age_reached_on(birth, N)`` and before
    ``age_reached_on(birth, N + 1)``. Defined from the day of birth; raises ValueError before it.
    """
    if on < birth:
        raise ValueError(f"{on.isoformat()} is before the birth on {birth.isoformat()}")
    # Someone born on 1 January reaches the next age on 31 December, so start one above the year difference.
    age = on.year - birth.year + 1
    while age_reached_on(birth, age) > on:
        age -= 1
    return age


def day_reaching_age(birth: date, table: DatedTable[T], age_of: Callable[[T], int]) -> date:
    """The day a person reaches an age threshold kept in a dated table (e.g. 60 of 9条3号).

    The threshold is the one in force on the day it is reached, so a change of the law applies to those who
    reach the new age after it. Raises NotInForceError if no entry covers that day.
    """
    for entry in table.entries:
        day = age_reached_on(birth, age_of(entry.value))
        if entry.in_force_on(day):
            return day
    raise NotInForceError(f"{table.name}: nothing in force when a person born {birth.isoformat()} reaches it")
