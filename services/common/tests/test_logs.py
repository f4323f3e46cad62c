"""Every line JSON, libraries' included; trace ids while a span is current; an outage is two lines."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from kokunen_common.db import retry_transient
from kokunen_common.logs import RepeatFilter, configure_logging, get_logger
from opentelemetry.sdk.trace import TracerProvider


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


def lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_library_lines_are_json_with_their_logger_and_the_current_trace(capsys: pytest.CaptureFixture[str]) -> None:
    import faststream  # noqa: F401 - its loggers exist once imported

    configure_logging("test-service", "INFO", "json")
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("work") as span:
        logging.getLogger("faststream").info("FastStream app starting...")
        logging.getLogger("aiokafka.consumer").warning("Heartbeat failed")
        get_logger("t").info("own line")
    logging.getLogger("aiokafka").warning("outside any span")
    expected = ["FastStream app starting...", "Heartbeat failed", "own line", "outside any span"]
    # Only this test's lines: a background thread of an earlier test (an exporter giving up) may log meanwhile.
    out = [r for r in lines(capsys.readouterr().out) if r["event"] in expected]
    trace_id = format(span.get_span_context().trace_id, "032x")
    assert [r["event"] for r in out] == expected
    assert [r.get("logger") for r in out] == ["faststream", "aiokafka.consumer", None, "aiokafka"]
    assert all(r["trace_id"] == trace_id and len(str(r["span_id"])) == 16 for r in out[:3])
    assert "trace_id" not in out[3]
    assert all(r["service"] == "test-service" for r in out)


def test_operator_commands_log_to_stderr_and_keep_stdout_for_their_report(capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    configure_logging("test-service", "INFO", "json", stream=sys.stderr)
    get_logger("t").info("imported")
    logging.getLogger("aiokafka").warning("library line")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert [r["event"] for r in lines(captured.err)] == ["imported", "library line"]


def test_a_library_repeating_the_same_warning_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("test-service", "INFO", "json")
    library = logging.getLogger("aiokafka.conn")
    for _ in range(5):
        library.error('Unable connect to "127.0.0.1:1"')
    library.warning("Connected")
    library.error('Unable connect to "127.0.0.1:1"')
    assert [r["event"] for r in lines(capsys.readouterr().out)] == [
        'Unable connect to "127.0.0.1:1"',
        "Connected",
        'Unable connect to "127.0.0.1:1"',
    ]


async def test_retries_are_logged_when_the_outage_starts_and_when_it_ends(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("test-service", "INFO", "json")
    failures = iter([ConnectionRefusedError("refused")] * 6)

    async def flaky() -> str:
        error = next(failures, None)
        if error is not None:
            raise error
        return "done"

    assert await retry_transient(flaky, budget_s=60, what="connect to PostgreSQL", first_delay_s=0.001) == "done"
    out = lines(capsys.readouterr().out)
    assert [(r["event"], r["level"]) for r in out] == [("unavailable; retrying", "warning"), ("recovered", "info")]
    assert out[0]["what"] == out[1]["what"] == "connect to PostgreSQL"
    assert out[0]["error"] == "ConnectionRefusedError: refused"
    assert out[1]["failed_attempts"] == 6


def test_a_repeat_goes_through_again_after_a_while_saying_how_many_were_dropped() -> None:
    now = [0.0]
    repeats = RepeatFilter(every_s=300, clock=lambda: now[0])

    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("aiokafka.conn", logging.ERROR, __file__, 1, message, None, None)

    first = record("Unable connect")
    assert repeats.filter(first)
    for _ in range(4):
        now[0] += 10
        assert not repeats.filter(record("Unable connect"))
    now[0] = 301
    later = record("Unable connect")
    assert repeats.filter(later)
    assert later.repeated == 4  # type: ignore[attr-defined]
    assert repeats.filter(record("Connected"))
    assert not getattr(first, "repeated", 0)
