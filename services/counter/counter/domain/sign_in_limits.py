"""サインインの試行制限: failed sign-ins counted per terminal and per staff member over a sliding window; at the
limit the counter refuses further sign-ins of that terminal or staff member (HTTP 429) until the oldest counted
failure is older than the window. Without it a brute force or a misbehaving client appends refused sign-ins to
``counter.sign_in_failure`` without bound.

Refused attempts are not themselves recorded (that is what the limit bounds): the change of state is, once — the
failure that reaches a limit is followed by one row saying that the terminal or staff member is now limited, and
until when at the latest. Pure: the adapter counts in the database, this decides and words it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")


class LimitedBy(StrEnum):
    """What a limit counts failures of (``counter.sign_in_failure.limited_by`` on the row that records it)."""

    TERMINAL = "terminal"  # 端末 (the client address)
    STAFF = "staff"  # 職員 (the IdP's verified subject)

    @property
    def label(self) -> str:
        return "この端末" if self is LimitedBy.TERMINAL else "この職員"


@dataclass(frozen=True)
class SignInLimits:
    window: timedelta
    per_terminal: int
    per_staff: int

    def limit(self, by: LimitedBy) -> int:
        return self.per_terminal if by is LimitedBy.TERMINAL else self.per_staff

    def reached(self, by: LimitedBy, failures: int) -> bool:
        """At or over the limit: sign-ins are refused."""
        return failures >= self.limit(by)

    def just_reached(self, by: LimitedBy, failures_after: int) -> bool:
        """The failure just recorded brought the count to the limit: the state changes (and is recorded once).
        A key over its limit records no more failures, so the count meets the limit exactly once per episode."""
        return failures_after == self.limit(by)

    def minutes(self) -> int:
        return int(self.window.total_seconds() // 60)


@dataclass(frozen=True)
class SignInRefusedForNow:
    """A sign-in refused by a limit: the Japanese message of the 429 page (and of the row that records the limit)."""

    by: LimitedBy
    failures: int
    """Failures counted in the window (one more than the limit means "over it")."""
    until: datetime
    """When the oldest counted failure leaves the window: sign-ins may work again from then."""

    def message(self, limits: SignInLimits) -> str:
        until = self.until.astimezone(JST)
        return (
            f"{self.by.label}のサインインの失敗が{limits.minutes()}分間に上限の{limits.limit(self.by)}回に"
            "達したため、サインインを一時的に受け付けていません。"
            f"{until:%H:%M} 以降にやり直してください。続く場合は情報システム担当にお問い合わせください。"
        )

    def record(self, limits: SignInLimits) -> str:
        """The row recording the change of state (for the auditors' review)."""
        until = self.until.astimezone(JST)
        return (
            f"サインインの試行制限を開始: {self.by.label}の失敗が{limits.minutes()}分間に上限の"
            f"{limits.limit(self.by)}回に達しました ({until:%H:%M} まで受け付けません)"
        )
