"""A synthetic month of access-log rows (2026-11) for the log review's tests: a city office's ordinary month —
twelve staff on working days, in office hours, searching and opening persons' pages — with planted anomalies,
each of which the review must find (and nothing else)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from counter.domain.log_analysis import JST, LogRow, Rule, SignInFailure
from counter.domain.office_calendar import closed_days

MONTH = "2026-11"
STAFF = [
    (f"s{n:02d}", f"職員 {n:02d}", "国保年金課 国民年金係" if n % 2 else "北区役所 保険年金課") for n in range(1, 13)
]
WIDELY_VIEWED = "900000000000001"


@dataclass
class SyntheticMonth:
    rows: list[LogRow] = field(default_factory=list)
    failures: list[SignInFailure] = field(default_factory=list)
    planted: set[tuple[str, str, str, str]] = field(default_factory=set)  # Finding.key of each planted anomaly

    def add(self, staff: tuple[str, str, str], at: datetime, action: str = "view", atena: str | None = None,
            *, my_number: bool = False, terminal: str = "10.1.2.3") -> LogRow:  # fmt: skip
        row = LogRow(len(self.rows) + 1, at, staff[0], staff[1], staff[2], terminal, action,
                     atena if action != "search" else None, my_number)  # fmt: skip
        self.rows.append(row)
        return row


def jst(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute, second), JST)


def synthetic_month(seed: int = 11, *, ordinary_staff: int = 12, views: tuple[int, int] = (8, 30)) -> SyntheticMonth:
    """The month: ``ordinary_staff`` of the twelve doing ``views`` searches and views a working day, then the
    planted anomalies (always all of them)."""
    rnd = random.Random(seed)
    month = SyntheticMonth()
    first, last = date(2026, 11, 1), date(2026, 11, 30)
    closed = closed_days(first, last)
    working = [d for d in (first + timedelta(n) for n in range(30)) if d.weekday() < 5 and d not in closed]
    for day in working:
        for staff in STAFF[:ordinary_staff]:
            for _ in range(rnd.randint(*views)):  # ordinary work: well under the daily threshold (40)
                at = jst(day, 8, 30) + timedelta(seconds=rnd.randrange(int(8.5 * 3600)))  # 08:30–17:00
                atena = f"{rnd.randrange(10**14, 10**14 + 200_000):015d}"
                month.add(staff, at, "search", atena)
                month.add(staff, at + timedelta(seconds=20), "view", atena)
    month.add(STAFF[0], jst(working[0], 8, 30), "view", "100000000000001")  # the opening minute is office hours
    month.add(STAFF[0], jst(working[0], 17, 14, 59), "view", "100000000000002")  # and the last one

    def plant(rule: Rule, day: date, staff_id: str = "", atena: str = "") -> None:
        month.planted.add((rule.value, day.isoformat(), staff_id, atena))

    night = ("yakin", "夜勤 太郎", "国保年金課 国民年金係")
    month.add(night, jst(date(2026, 11, 11), 22, 40), "view", "100000000000003")
    plant(Rule.OUTSIDE_HOURS, date(2026, 11, 11), "yakin", "100000000000003")
    month.add(STAFF[8], jst(date(2026, 11, 19), 17, 15), "view", "100000000000004")  # 閉庁時刻ちょうど
    plant(Rule.OUTSIDE_HOURS, date(2026, 11, 19), "s09", "100000000000004")
    month.add(STAFF[2], jst(date(2026, 11, 3), 10, 15), "view", "100000000000005")  # 文化の日 (a Tuesday)
    plant(Rule.CLOSED_DAY, date(2026, 11, 3), "s03", "100000000000005")
    month.add(STAFF[4], jst(date(2026, 11, 14), 11, 0), "search")  # a Saturday
    plant(Rule.CLOSED_DAY, date(2026, 11, 14), "s05")
    for n in range(75):  # s07 opens 75 person pages on one day, within office hours
        month.add(STAFF[6], jst(date(2026, 11, 18), 9, 0) + timedelta(minutes=5 * n), "view", f"{200000000000000 + n}")
    plant(Rule.DAILY_VIEWS, date(2026, 11, 18), "s07")
    for n, staff in enumerate(STAFF[:7]):  # one person opened by seven staff over the month
        month.add(staff, jst(working[n + 2], 13, 30), "view", WIDELY_VIEWED)
    plant(Rule.MANY_STAFF, last, "", WIDELY_VIEWED)
    handler = ("bango", "番号 次郎", "国保年金課 国民年金係")
    for hour in (10, 14):
        month.add(handler, jst(date(2026, 11, 20), hour), "reveal_my_number", "100000000000006", my_number=True)
        plant(Rule.MY_NUMBER, date(2026, 11, 20), "bango", "100000000000006")
    # Outside the month in JST (the UTC date says November): counted in no rule.
    month.add(night, datetime(2026, 11, 30, 15, 30, tzinfo=UTC), "view", "100000000000007")
    month.add(night, datetime(2026, 10, 31, 14, 0, tzinfo=UTC), "view", "100000000000008")

    for minute in (1, 2, 4, 7):  # someone tries the sign-in four times at night from one terminal
        month.failures.append(
            SignInFailure(jst(date(2026, 11, 25), 3, minute), "10.0.0.99", None, "認証の応答を確認できません")
        )
        plant(Rule.SIGN_IN_FAILED, date(2026, 11, 25))
    plant(Rule.SIGN_IN_REPEATED, date(2026, 11, 25))
    month.failures.append(SignInFailure(jst(date(2026, 11, 26), 10), "10.1.2.3", "s02", "役割が割り当てられていません"))
    plant(Rule.SIGN_IN_FAILED, date(2026, 11, 26), "s02")
    return month
