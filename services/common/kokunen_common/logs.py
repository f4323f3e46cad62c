"""Structured JSON logs (structlog) that cannot carry a My Number.

Every line a service prints is one JSON object: its own (structlog), and the libraries' (faststream,
aiokafka, asyncio, warnings) through the standard library's logging, with ``trace_id``/``span_id`` while a
span is current. Outages are logged when they start and when they end, not at every retry (``OUTAGES``).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, MutableMapping
from typing import Any, TextIO

import structlog
from opentelemetry import trace

from .errors import describe_exception, redact

_FORBIDDEN_KEYS = frozenset({"my_number", "mynumber", "個人番号", "kojin_bango"})


def _redact_values(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key.lower() in _FORBIDDEN_KEYS:
            event_dict[key] = "[redacted]"
        elif isinstance(event_dict[key], str):
            event_dict[key] = redact(event_dict[key])
    return event_dict


def _add_trace_ids(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict["trace_id"] = format(context.trace_id, "032x")
        event_dict["span_id"] = format(context.span_id, "016x")
    return event_dict


class _CurrentStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stdout`` (or ``sys.stderr``) is when a record is emitted, not when configured."""

    def __init__(self, to_stderr: bool) -> None:
        super().__init__()
        self._to_stderr = to_stderr

    @property
    def stream(self) -> Any:
        return sys.stderr if self._to_stderr else sys.stdout

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


class RepeatFilter(logging.Filter):
    """Drops a library's warning that only repeats the one before it (aiokafka says "Unable connect" at every
    reconnect attempt): an outage is one line, and a different message is a change of state worth a line. A
    repeat still goes through once every ``every_s`` (then with ``repeated``: how many were dropped), so a
    long outage is not silent."""

    def __init__(self, every_s: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._every_s = every_s
        self._clock = clock
        self._last: dict[str, tuple[str, float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        family = record.name.split(".", 1)[0]
        message = record.getMessage()
        now = self._clock()
        last = self._last.get(family)
        if last is not None and last[0] == message:
            if now - last[1] < self._every_s:
                self._last[family] = (message, last[1], last[2] + 1)
                return False
            record.repeated = last[2]  # shown as a field of the line
        self._last[family] = (message, now, 0)
        return True


def _stderr_factory(*_: Any) -> structlog.PrintLogger:
    return structlog.PrintLogger(sys.stderr)


def _stdout_factory(*_: Any) -> structlog.PrintLogger:
    return structlog.PrintLogger(sys.stdout)


def configure_logging(service: str, level: str = "INFO", fmt: str = "json", *, stream: TextIO | None = None) -> None:
    """JSON lines with service, trace id and span id; My Numbers masked everywhere. On stdout for a service
    (``run``); ``stream=sys.stderr`` for operator commands, whose stdout is their report."""
    to_stderr = stream is sys.stderr
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        _add_logger_name,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_trace_ids,
        structlog.processors.format_exc_info,
        _redact_values,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=_stderr_factory if to_stderr else _stdout_factory,
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.bind_contextvars(service=service)
    # Libraries (aiokafka, faststream, asyncio) log through the stdlib: route them through the same redaction.
    handler = _CurrentStreamHandler(to_stderr)
    handler.addFilter(RepeatFilter())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    # FastStream gives its loggers a coloured handler of their own: send them through ours instead.
    for name in [n for n in logging.root.manager.loggerDict if n == "faststream" or n.startswith("faststream.")]:
        library = logging.getLogger(name)
        library.handlers.clear()
        library.propagate = True
    logging.getLogger("faststream").setLevel(logging.getLevelName(level.upper()))
    logging.captureWarnings(True)


def _add_logger_name(logger: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """The library a foreign line comes from (``aiokafka.consumer.group_coordinator``, ``faststream``)."""
    record = event_dict.get("_record")
    if record is not None:
        event_dict.setdefault("logger", record.name)
        if getattr(record, "repeated", 0):
            event_dict["repeated"] = record.repeated  # dropped repeats since the line was last shown
    return event_dict


class StateChangeLog:
    """Logs that something is unavailable when it first fails, and that it recovered when it next works —
    once each, however many attempts fail in between (a database outage is two lines, not hundreds)."""

    def __init__(self) -> None:
        self._down: dict[str, tuple[float, int]] = {}

    def failed(self, what: str, exc: BaseException) -> None:
        since, failures = self._down.get(what, (time.monotonic(), 0))
        if not failures:
            get_logger(__name__).warning("unavailable; retrying", what=what, error=describe_exception(exc))
        self._down[what] = (since, failures + 1)

    def succeeded(self, what: str) -> None:
        state = self._down.pop(what, None)
        if state is not None:
            since, failures = state
            get_logger(__name__).info(
                "recovered", what=what, failed_attempts=failures, down_s=round(time.monotonic() - since, 1)
            )

    def is_down(self, what: str) -> bool:
        return what in self._down


OUTAGES = StateChangeLog()


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
