"""アクセスログ分析 (the auditors' monthly review of the access log): which rows deserve a second look.

特定個人情報の適正な取扱いに関するガイドライン (行政機関等編) asks that the access logs of a system holding 特定個人情報
be analysed regularly (安全管理措置: アクセスログの定期的な分析); this is that analysis for one month, as rules an
auditor can read. Each rule names its threshold (``Thresholds``, a setting of the city, shown and explained in
the report) and returns findings; a finding says what happened, by whom, when, and which rows (連番) to open.

- 閉庁日・時間外の操作: any search, view, reveal or audit read on a day the city office is closed (土曜日・日曜日,
  国民の祝日に関する法律の休日, 年末年始 — 地方自治法4条の2 and the city's 休日条例: ``office_calendar``) or outside
  the office hours of a working day.
- 1日の照会件数が多い職員: a staff member who opened more person pages in one day than ``daily_views``.
- 多数の職員に照会された者: a person whose page was opened by more distinct staff in the month than
  ``staff_per_person``.
- 個人番号の表示: every My Number reveal (番号法: each one is reviewed, not only unusual ones).
- サインインの失敗: failed sign-ins the counter refused (a forged, expired or replayed answer of the identity
  provider, a staff member without a role) — each is listed; a terminal or staff member with ``failed_sign_ins``
  or more on one day is called out.

Clock-free: the month, the rows and the calendar come in; nothing is read here.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from enum import StrEnum
from zoneinfo import ZoneInfo

from .access_log import ACTION_LABELS, Action

JST = ZoneInfo("Asia/Tokyo")
PERSON_PAGE_ACTIONS = frozenset({Action.VIEW.value, Action.REVEAL_MY_NUMBER.value})


@dataclass(frozen=True)
class Thresholds:
    """The city's review thresholds (settings ``COUNTER_AUDIT_*``; each is printed, with what it means, on the
    report's first page)."""

    office_opens: time = time(8, 30)  # 開庁時刻
    office_closes: time = time(17, 15)  # 閉庁時刻
    daily_views: int = 40  # 1日に1人の職員が開く個人の画面の件数の上限 (これを超えると指摘)
    staff_per_person: int = 5  # 1か月に1人の者を照会した職員数の上限 (これを超えると指摘)
    failed_sign_ins: int = 3  # 1日に同じ端末・職員のサインイン失敗の件数 (これ以上で指摘)

    def explained(self) -> list[tuple[str, str]]:
        """Each threshold in words, for the report."""
        return [
            (
                "開庁時間",
                f"{self.office_opens:%H:%M}〜{self.office_closes:%H:%M} (開庁日)。"
                "閉庁日 (土日・祝日・年末年始) の操作と、開庁日のこの時間外の操作をすべて挙げます。",
            ),
            (
                "1日の照会件数",
                f"1人の職員が1日に開いた個人の画面 (照会・個人番号表示) が{self.daily_views}件を超えた日を挙げます。",
            ),
            (
                "照会した職員数",
                f"1人の者の画面を1か月に{self.staff_per_person}人を超える職員が開いた場合に挙げます。",
            ),
            ("個人番号の表示", "個人番号を表示した操作はすべて挙げます (件数の基準なし)。"),
            (
                "サインインの失敗",
                f"失敗はすべて挙げ、同じ日に同じ端末または職員で{self.failed_sign_ins}件以上ある場合は要確認とします。",
            ),
        ]


class Rule(StrEnum):
    OUTSIDE_HOURS = "outside_hours"
    CLOSED_DAY = "closed_day"
    DAILY_VIEWS = "daily_views"
    MANY_STAFF = "many_staff"
    MY_NUMBER = "my_number"
    SIGN_IN_FAILED = "sign_in_failed"
    SIGN_IN_REPEATED = "sign_in_repeated"

    @property
    def label(self) -> str:
        return RULE_LABELS[self]


RULE_LABELS = {
    Rule.OUTSIDE_HOURS: "時間外の操作",
    Rule.CLOSED_DAY: "閉庁日の操作",
    Rule.DAILY_VIEWS: "1日の照会件数が多い職員",
    Rule.MANY_STAFF: "多数の職員に照会された者",
    Rule.MY_NUMBER: "個人番号の表示",
    Rule.SIGN_IN_FAILED: "サインインの失敗",
    Rule.SIGN_IN_REPEATED: "サインインの失敗が続いた端末・職員",
}


@dataclass(frozen=True)
class LogRow:
    """The columns of an access-log row the rules read."""

    seq: int
    logged_at: datetime  # aware
    staff_id: str
    staff_name: str
    department: str
    terminal: str
    action: str
    atena_number: str | None
    my_number_shown: bool

    @classmethod
    def of(cls, row: Mapping[str, object]) -> LogRow:
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})  # type: ignore[arg-type]


@dataclass(frozen=True)
class SignInFailure:
    """A sign-in the counter refused (counter.sign_in_failure)."""

    failed_at: datetime  # aware
    terminal: str
    staff_id: str | None  # known only when the identity provider's answer was verified
    problem: str  # what was wrong, in Japanese


@dataclass(frozen=True)
class Finding:
    """One thing for the auditor to look at."""

    rule: Rule
    day: date
    detail: str
    staff_id: str = ""
    staff_name: str = ""
    department: str = ""
    at: datetime | None = None  # the moment, when the finding is one row
    atena_number: str = ""
    count: int = 1
    seqs: tuple[int, ...] = ()  # the access-log rows behind it (連番)

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What a finding is about, for tests and deduplication: rule, day, staff, person."""
        return (self.rule.value, self.day.isoformat(), self.staff_id, self.atena_number)


@dataclass(frozen=True)
class MonthReview:
    """The month's review: every finding and the figures the charts draw."""

    month: str  # YYYY-MM
    first_day: date
    last_day: date
    thresholds: Thresholds
    closed_days: Mapping[date, str]
    rows: int
    sign_in_failures: int
    findings: Sequence[Finding]
    rows_per_day: Mapping[date, int]
    rows_per_hour: Sequence[int]  # 0–23, JST
    top_daily_views: Sequence[tuple[str, int]]  # staff, their highest day's person pages
    top_staff_per_person: Sequence[tuple[str, int]]  # 宛名番号, distinct staff
    staff_count: int = 0
    by_rule: Mapping[Rule, int] = field(default_factory=dict)


class MonthRefused(ValueError):
    """Not a month the review can be made for."""


def parse_month(value: str) -> tuple[date, date]:
    """``YYYY-MM`` → its first and last day, or ``MonthRefused`` with a Japanese message."""
    text = value.strip()
    parts = text.split("-")
    if len(parts) != 2 or not all(p.isdigit() for p in parts) or len(parts[0]) != 4 or len(parts[1]) != 2:
        raise MonthRefused(f"月は 2026-11 の形 (西暦4桁-月2桁) で指定してください: {text[:20]!r}")
    year, month = int(parts[0]), int(parts[1])
    if not 1 <= month <= 12 or year < 2000:
        raise MonthRefused(f"存在しない月です: {text[:20]!r}")
    first = date(year, month, 1)
    following = date(year + (month == 12), month % 12 + 1, 1)
    return first, date.fromordinal(following.toordinal() - 1)


def review_month(
    month: str,
    rows: Iterable[LogRow],
    failures: Iterable[SignInFailure],
    closed_days: Mapping[date, str],
    thresholds: Thresholds,
) -> MonthReview:
    """Apply every rule to the month's rows (days and hours in JST, the office's time)."""
    first, last = parse_month(month)
    findings: list[Finding] = []
    per_day: Counter[date] = Counter()
    per_hour = [0] * 24
    page_views: dict[tuple[str, date], list[LogRow]] = defaultdict(list)
    viewers: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    staff: dict[str, LogRow] = {}
    count = 0
    for row in rows:
        local = row.logged_at.astimezone(JST)
        day = local.date()
        if not first <= day <= last:
            continue
        count += 1
        per_day[day] += 1
        per_hour[local.hour] += 1
        staff.setdefault(row.staff_id, row)
        when = local.strftime("%H:%M")
        closed = closed_days.get(day) or ("土曜日" if day.weekday() == 5 else "日曜日" if day.weekday() == 6 else None)
        if closed:
            findings.append(_row_finding(Rule.CLOSED_DAY, row, day, f"{closed}の{when}に{_what(row)}"))
        elif not thresholds.office_opens <= local.time() < thresholds.office_closes:
            findings.append(_row_finding(Rule.OUTSIDE_HOURS, row, day, f"開庁時間外の{when}に{_what(row)}"))
        if row.action in PERSON_PAGE_ACTIONS:
            page_views[(row.staff_id, day)].append(row)
            if row.atena_number:
                viewers[row.atena_number][row.staff_id].append(row.seq)
        if row.my_number_shown:
            findings.append(_row_finding(Rule.MY_NUMBER, row, day, f"{when}に個人番号を表示"))

    highest: dict[str, int] = {}
    for (staff_id, day), views in sorted(page_views.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        highest[staff_id] = max(highest.get(staff_id, 0), len(views))
        if len(views) > thresholds.daily_views:
            who = views[0]
            findings.append(
                Finding(
                    Rule.DAILY_VIEWS,
                    day,
                    f"1日に{len(views)}件 (基準 {thresholds.daily_views}件)",
                    who.staff_id,
                    who.staff_name,
                    who.department,
                    count=len(views),
                    seqs=tuple(v.seq for v in views),
                )
            )
    spread: dict[str, int] = {}
    for atena, by_staff in sorted(viewers.items()):
        spread[atena] = len(by_staff)
        if len(by_staff) > thresholds.staff_per_person:
            seqs = tuple(sorted(s for seqs_ in by_staff.values() for s in seqs_))
            departments = sorted({staff[s].department for s in by_staff})
            findings.append(
                Finding(
                    Rule.MANY_STAFF,
                    last,
                    f"{len(by_staff)}人の職員が照会 (基準 {thresholds.staff_per_person}人): " + "、".join(departments),
                    atena_number=atena,
                    count=len(by_staff),
                    seqs=seqs,
                )
            )
    failure_count = 0
    repeated: dict[tuple[date, str], list[SignInFailure]] = defaultdict(list)
    for failure in failures:
        local = failure.failed_at.astimezone(JST)
        day = local.date()
        if not first <= day <= last:
            continue
        failure_count += 1
        findings.append(
            Finding(
                Rule.SIGN_IN_FAILED,
                day,
                f"{local:%H:%M} 端末 {failure.terminal}: {failure.problem}",
                failure.staff_id or "",
                at=failure.failed_at,
            )
        )
        repeated[(day, f"端末 {failure.terminal}")].append(failure)
        if failure.staff_id:
            repeated[(day, f"職員 {failure.staff_id}")].append(failure)
    for (day, subject), items in sorted(repeated.items()):
        if len(items) >= thresholds.failed_sign_ins:
            staff_id = subject.removeprefix("職員 ") if subject.startswith("職員 ") else ""
            findings.append(
                Finding(
                    Rule.SIGN_IN_REPEATED,
                    day,
                    f"{subject}: 1日に{len(items)}件 (基準 {thresholds.failed_sign_ins}件)",
                    staff_id,
                    count=len(items),
                )
            )
    findings.sort(key=lambda f: (list(Rule).index(f.rule), f.day, f.at or datetime.min.replace(tzinfo=JST), f.key))
    return MonthReview(
        month=f"{first:%Y-%m}",
        first_day=first,
        last_day=last,
        thresholds=thresholds,
        closed_days={d: n for d, n in closed_days.items() if first <= d <= last},
        rows=count,
        sign_in_failures=failure_count,
        findings=findings,
        rows_per_day={d: per_day.get(d, 0) for d in _days(first, last)},
        rows_per_hour=per_hour,
        top_daily_views=sorted(highest.items(), key=lambda kv: (-kv[1], kv[0]))[:15],
        top_staff_per_person=sorted(spread.items(), key=lambda kv: (-kv[1], kv[0]))[:15],
        staff_count=len(staff),
        by_rule=Counter(f.rule for f in findings),
    )


def _days(first: date, last: date) -> list[date]:
    return [date.fromordinal(n) for n in range(first.toordinal(), last.toordinal() + 1)]


def _what(row: LogRow) -> str:
    return ACTION_LABELS.get(row.action, row.action)  # type: ignore[call-overload,no-any-return]


def _row_finding(rule: Rule, row: LogRow, day: date, detail: str) -> Finding:
    return Finding(
        rule,
        day,
        detail,
        row.staff_id,
        row.staff_name,
        row.department,
        at=row.logged_at,
        atena_number=row.atena_number or "",
        seqs=(row.seq,),
    )
