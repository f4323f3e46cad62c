"""Premium per month (保険料月額) and what a person owes for a month under an exemption (87条, 90条の2).

The monthly premium is a dated fiscal-year (April–March) table. Under a partial exemption the person pays
the remaining share, rounded to 10 yen as 90条の2 says: an odd amount under 5 yen is dropped, 5 yen or more
becomes 10 (FY2025: 17,510 → 4分の3免除 4,380, 半額 8,760, 4分の1免除 13,130).

Which exemption holds in a month, when several could: 産前産後免除 (88条の2) first, then 法定免除 (89条),
then an approved 申請免除・納付猶予・学特 — 88条の2 takes priority over all others.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

from ..domain.additional_premium import PremiumStatus
from ..domain.months import YearMonth
from .parameters import MONTHLY_PREMIUM_YEN

SHARE_PAID: dict[PremiumStatus, Fraction] = {
    PremiumStatus.PAYING: Fraction(1),
    PremiumStatus.QUARTER_EXEMPTION: Fraction(3, 4),
    PremiumStatus.HALF_EXEMPTION: Fraction(1, 2),
    PremiumStatus.THREE_QUARTER_EXEMPTION: Fraction(1, 4),
    PremiumStatus.FULL_EXEMPTION: Fraction(0),
    PremiumStatus.STATUTORY_EXEMPTION: Fraction(0),
    PremiumStatus.PAYMENT_DEFERRAL: Fraction(0),
    PremiumStatus.STUDENT_DEFERRAL: Fraction(0),
    PremiumStatus.PRE_POSTNATAL_EXEMPTION: Fraction(0),
}
"""The share of the monthly premium the person pays under each status."""


def round_to_10_yen(amount: Fraction) -> int:
    """5円未満の端数は切り捨て、5円以上10円未満は10円に切り上げ (90条の2)."""
    return int((amount + 5) // 10) * 10


def monthly_premium(month: YearMonth) -> int:
    """保険料月額 of the fiscal year the month belongs to (87条3項)."""
    return MONTHLY_PREMIUM_YEN.on(month.first_day)


def premium_owed(month: YearMonth, status: PremiumStatus) -> int:
    """What the person pays for ``month`` under ``status`` (0 under a full exemption or a deferral)."""
    share = SHARE_PAID[status]
    if share == 1:
        return monthly_premium(month)
    return round_to_10_yen(monthly_premium(month) * share)


_PRIORITY = (PremiumStatus.PRE_POSTNATAL_EXEMPTION, PremiumStatus.STATUTORY_EXEMPTION)


def status_in_month(statuses: Iterable[PremiumStatus]) -> PremiumStatus:
    """The one status that holds in a month among those that apply to it: 産前産後 before 法定免除 before an
    applied-for exemption or deferral; paying when none applies."""
    present = set(statuses)
    for status in _PRIORITY:
        if status in present:
            return status
    present.discard(PremiumStatus.PAYING)
    if len(present) > 1:
        raise ValueError(f"two applied-for exemptions in one month: {sorted(present)}")
    return present.pop() if present else PremiumStatus.PAYING
