"""What every operator command shares: help that fits 80 columns, no Rich tracebacks, logs on stderr
(stdout is the command's report), and options checked with a clear message and exit status 2.

Periods default to the last whole one, in Japan time (法定の日付は日本時間): the month before this one
(処理月 of a monthly batch) and the ISO week before this one (週次の進達).
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import typer
from aiokafka.errors import KafkaError

from .db import is_transient
from .errors import ConfigurationError, describe_exception
from .logs import configure_logging, get_logger
from .settings import ServiceSettings

log = get_logger(__name__)

JST = timezone(timedelta(hours=9))

CLI_CONTEXT = {"max_content_width": 72, "help_option_names": ["-h", "--help"]}

_MONTH = re.compile(r"(?P<year>[0-9]{4})-(?P<month>0[1-9]|1[0-2])")
_WEEK = re.compile(r"(?P<year>[0-9]{4})-W(?P<week>[0-9]{2})")


class OperatorTyper(typer.Typer):
    """A command that fails says why in one JSON line on stderr and exits 1, instead of a traceback."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except Exception as exc:
            settings = log_to_stderr(Path(sys.argv[0]).name or "kokunen")
            message, expected = describe_failure(exc, settings)
            log.error(message, error=describe_exception(exc), exc_info=None if expected else exc)
            sys.exit(1)


def describe_failure(exc: BaseException, settings: ServiceSettings) -> tuple[str, bool]:
    """What a failed process says (one line), and whether it is an outage rather than a fault (no traceback)."""
    if isinstance(exc, ConfigurationError):
        return "invalid configuration; exiting", True
    if isinstance(exc, KafkaError):
        return f"cannot reach Kafka at {settings.kafka_bootstrap_servers}; exiting", True
    if is_transient(exc):
        return "cannot reach PostgreSQL; exiting", True
    return "failed; exiting", False


def operator_cli(help_text: str) -> typer.Typer:
    """A command line for people: plain errors, 80-column help."""
    return OperatorTyper(
        help=help_text,
        pretty_exceptions_enable=False,
        context_settings=CLI_CONTEXT,
        no_args_is_help=True,
        rich_markup_mode=None,  # plain click help: it keeps to max_content_width
    )


def log_to_stderr(service: str) -> ServiceSettings:
    """The service's settings, with its JSON logs on stderr: an operator command's stdout is its report."""
    settings = ServiceSettings()
    configure_logging(service, settings.log_level, settings.log_format, stream=sys.stderr)
    return settings


def today_in_japan(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(JST).date()


def last_month(today: date) -> str:
    return (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


def last_week(today: date) -> str:
    year, week, _ = (today - timedelta(days=7)).isocalendar()
    return f"{year}-W{week:02d}"


def month_option(value: str | None) -> str:
    """``--month``: 処理月 as ``YYYY-MM``; the last month when omitted."""
    if not value:
        return last_month(today_in_japan())
    if not _MONTH.fullmatch(value):
        raise typer.BadParameter(f"{value!r} is not a month: write YYYY-MM, e.g. 2026-11")
    return value


def week_option(value: str | None) -> str:
    """``--week``: an ISO 8601 week ``YYYY-Www``; the last week when omitted."""
    if not value:
        return last_week(today_in_japan())
    match = _WEEK.fullmatch(value)
    if match is None:
        raise typer.BadParameter(f"{value!r} is not a week: write YYYY-Www (ISO 8601), e.g. 2026-W47")
    try:
        date.fromisocalendar(int(match["year"]), int(match["week"]), 1)
    except ValueError:
        raise typer.BadParameter(f"{match['year']} has no week {match['week']}") from None
    return value


def day_option(value: str | None) -> str:
    """``--date``: a day as ``YYYY-MM-DD``; empty when omitted (the command's own default)."""
    if not value:
        return ""
    problem = f"{value!r} is not a day: write YYYY-MM-DD, e.g. 2026-11-30"
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        raise typer.BadParameter(problem)
    try:
        date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(problem) from None
    return value
