"""届出 of 法定免除 (89条) and 産前産後免除 (88条の2): accepted with the months they cover, or refused with the rule.

Both are for 第1号被保険者 only. A 法定免除 stays open until a 非該当届 names the day its reason ceased; a
person has one open at a time. The 産前産後 届 may be made from 6 months before the expected birth
[unconfirmed: 施行規則 as published by JPS]; after the birth its date replaces the expected one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from ..domain.additional_premium import PremiumStatus
from ..domain.months import YearMonth
from ..domain.periods import QualificationHistory
from .applications import ApplicationRefusal, Refusal, category_1_months
from .statutory import MonthRange, NotInForceYet, StatutoryReason, pre_postnatal_months, statutory_exemption_months

EARLIEST_PRE_POSTNATAL_NOTICE_MONTHS = 6
"""産前産後免除の届出: from this many months before the expected birth [unconfirmed]."""


class NotificationKind(StrEnum):
    """免除の届出の種類."""

    STATUTORY_EXEMPTION = "statutory_exemption"  # 法定免除該当届
    STATUTORY_EXEMPTION_ENDED = "statutory_exemption_ended"  # 法定免除非該当届
    PRE_POSTNATAL_EXEMPTION = "pre_postnatal_exemption"  # 産前産後期間の免除届


@dataclass(frozen=True)
class Notification:
    kind: NotificationKind
    received_on: date
    statutory_reason: StatutoryReason | None = None
    reason_arose_on: date | None = None  # 該当年月日
    reason_ceased_on: date | None = None  # 非該当年月日
    expected_birth_on: date | None = None  # 出産予定日
    born_on: date | None = None  # 出産日
    multiple_birth: bool = False  # 多胎妊娠


@dataclass(frozen=True)
class ExemptionPeriod:
    """免除情報 of a 届出: which status, the months, and why (for staff and the 付加保険料 rule)."""

    status: PremiumStatus  # STATUTORY_EXEMPTION or PRE_POSTNATAL_EXEMPTION
    months: MonthRange
    reason: str
    article: str


def on_notification(
    notification: Notification, history: QualificationHistory, open_statutory: ExemptionPeriod | None
) -> ExemptionPeriod | Refusal:
    """The exemption a 届出 records (or ends), or why it cannot."""
    n = notification
    match n.kind:
        case NotificationKind.STATUTORY_EXEMPTION:
            assert n.statutory_reason is not None
            assert n.reason_arose_on is not None
            if open_statutory is not None:
                return Refusal(
                    ApplicationRefusal.ALREADY_STATUTORY,
                    "国民年金法89条",
                    f"既に法定免除（{open_statutory.months}）に該当しています。非該当届の後に届け出てください",
                )
            months = statutory_exemption_months(n.reason_arose_on, n.reason_ceased_on)
            period = ExemptionPeriod(
                PremiumStatus.STATUTORY_EXEMPTION,
                months,
                f"法定免除: {n.statutory_reason.label_ja}（該当 {n.reason_arose_on.isoformat()}）",
                "国民年金法89条1項",
            )
        case NotificationKind.STATUTORY_EXEMPTION_ENDED:
            assert n.reason_ceased_on is not None
            if open_statutory is None:
                return Refusal(
                    ApplicationRefusal.NO_STATUTORY_EXEMPTION, "国民年金法89条", "法定免除に該当していません"
                )
            if n.reason_ceased_on < open_statutory.months.first.first_day:
                return Refusal(
                    ApplicationRefusal.PERIOD_REVERSED, "国民年金法89条", "非該当日が法定免除の始期より前です"
                )
            return ExemptionPeriod(
                open_statutory.status,
                MonthRange(open_statutory.months.first, YearMonth.of(n.reason_ceased_on)),
                open_statutory.reason + f"（非該当 {n.reason_ceased_on.isoformat()}）",
                "国民年金法89条1項 (該当しなくなる日の属する月まで)",
            )
        case NotificationKind.PRE_POSTNATAL_EXEMPTION:
            birth = n.born_on or n.expected_birth_on
            assert birth is not None
            if n.born_on is None and n.received_on < _months_before(birth, EARLIEST_PRE_POSTNATAL_NOTICE_MONTHS):
                return Refusal(
                    ApplicationRefusal.TOO_EARLY,
                    "国民年金法88条の2 (届出は出産予定日の6か月前から)",
                    "産前産後免除の届出は出産予定日の6か月前からです",
                )
            try:
                months = pre_postnatal_months(birth, multiple=n.multiple_birth)
            except NotInForceYet as error:
                return Refusal(ApplicationRefusal.NOT_IN_FORCE, "国民年金法88条の2 (平成31年4月施行)", str(error))
            what = "多胎妊娠のため6か月" if n.multiple_birth else "4か月"
            period = ExemptionPeriod(
                PremiumStatus.PRE_POSTNATAL_EXEMPTION,
                months,
                f"産前産後免除: {'出産日' if n.born_on else '出産予定日'} {birth.isoformat()}、{what}",
                "国民年金法88条の2",
            )
    last = period.months.last or YearMonth.of(n.received_on)
    if not any(category_1_months(history, period.months.first, max(last, period.months.first)).values()):
        return Refusal(
            ApplicationRefusal.NOT_CATEGORY_1,
            "国民年金法88条の2・89条 (第1号被保険者)",
            f"{period.months}に第1号被保険者の月がありません",
        )
    return period


def _months_before(day: date, months: int) -> date:
    month = YearMonth.of(day).plus(-months)
    last_day = (month.plus(1).first_day - month.first_day).days
    return date(month.year, month.month, min(day.day, last_day))
