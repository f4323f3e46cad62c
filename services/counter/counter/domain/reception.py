"""受付処理簿: the filings a counter (窓口, named by its 部署) received on a day or in a week, each with what became of
it and whether it goes to the Japan Pension Service (進達) — under the same kind names as the JPS medium's own
受付処理簿 (``JpsReportKind``), so the two books can be laid side by side.

The book is kept from events only: the submissions (``counter.*-submitted.v1``: 受付番号, kind, 宛名番号, 受付日,
部署, 職員) and eligibility's answers (``eligibility.filing-outcome.v1``, ``exemption-screened.v1``,
``exemption-notification-outcome.v1``, ``benefit-claim-received.v1``), which name the same 受付番号 but carry
neither the 部署 nor (for a filing) the 受付日.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from kokunen_contracts.counter import FilingKind
from kokunen_contracts.eligibility import (
    BenefitClaimKind,
    ExemptionApplicationKind,
    ExemptionNotificationKind,
    JpsReportKind,
)
from kokunen_contracts.labels import LabelledEnum

from .display import both_dates


class Source(StrEnum):
    """Which submission topic a reception came from."""

    FILING = "filing"  # counter.filing-submitted.v1
    EXEMPTION_APPLICATION = "exemption_application"  # counter.exemption-application-submitted.v1
    EXEMPTION_NOTIFICATION = "exemption_notification"  # counter.exemption-notification-submitted.v1
    BENEFIT_CLAIM = "benefit_claim"  # counter.benefit-claim-submitted.v1


KINDS: dict[Source, type[LabelledEnum]] = {
    Source.FILING: FilingKind,
    Source.EXEMPTION_APPLICATION: ExemptionApplicationKind,
    Source.EXEMPTION_NOTIFICATION: ExemptionNotificationKind,
    Source.BENEFIT_CLAIM: BenefitClaimKind,
}


def kind_label(source: str, kind: str) -> str:
    """届出等の種類 in words (the contract's own label)."""
    try:
        return KINDS[Source(source)](kind).label
    except ValueError:
        return kind


def jps_report_kind(source: str, kind: str) -> JpsReportKind | None:
    """The 進達 kind a reception becomes when eligibility accepts it (as eligibility reports it), or None.

    A filing reports under its own kind (a 訂正の確認 makes its correction reported, not itself); every
    免除等申請 and the 産前産後免除届 as 免除・納付猶予・学生納付特例申請; the 法定免除 届 as 法定免除届; every
    裁定請求 as 裁定請求.
    """
    match Source(source):
        case Source.FILING:
            return None if kind == FilingKind.CONFIRMATION else JpsReportKind(kind)
        case Source.EXEMPTION_APPLICATION:
            return JpsReportKind.EXEMPTION_APPLICATION
        case Source.EXEMPTION_NOTIFICATION:
            statutory = kind != ExemptionNotificationKind.PRE_POSTNATAL_EXEMPTION
            return JpsReportKind.STATUTORY_EXEMPTION if statutory else JpsReportKind.EXEMPTION_APPLICATION
        case Source.BENEFIT_CLAIM:
            return JpsReportKind.BENEFIT_CLAIM


class Outcome(StrEnum):
    """What became of a reception, across the four answers: 受理, 確認待ち, 不受理, or not answered yet."""

    ACCEPTED = "accepted"
    PENDING = "pending"
    REFUSED = "refused"
    UNANSWERED = "unanswered"


OUTCOME_LABELS = {
    Outcome.ACCEPTED: "受理",
    Outcome.PENDING: "確認待ち",
    Outcome.REFUSED: "不受理",
    Outcome.UNANSWERED: "処理中",
}


def reported_to_jps(source: str, kind: str, outcome: Outcome) -> str:
    """進達: 対象 (reported with the week's medium), 対象外, or — while the outcome is not known — 未定."""
    if outcome in (Outcome.UNANSWERED, Outcome.PENDING):
        return "未定"
    if outcome is Outcome.REFUSED or jps_report_kind(source, kind) is None:
        return "対象外"
    return "対象"


class Span(StrEnum):
    DAY = "day"  # 日計
    WEEK = "week"  # 週計 (月曜〜日曜: the JPS 進達 week)


@dataclass(frozen=True)
class BookPeriod:
    first: date
    last: date
    span: Span

    @classmethod
    def of(cls, day: date, span: Span) -> BookPeriod:
        if span is Span.DAY:
            return cls(day, day, span)
        monday = day - timedelta(days=day.weekday())
        return cls(monday, monday + timedelta(days=6), span)

    @property
    def text(self) -> str:
        if self.span is Span.DAY:
            return both_dates(self.first)
        iso = self.first.isocalendar()
        return f"{both_dates(self.first)} 〜 {both_dates(self.last)} ({iso.year}年 第{iso.week}週)"
