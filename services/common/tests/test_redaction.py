"""My Number never reaches a log line or an error text."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from kokunen_common.errors import describe_exception, redact
from kokunen_common.logs import configure_logging, get_logger


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


def test_twelve_digit_runs_are_masked_but_other_numbers_stay() -> None:
    assert redact("number 123456789018 here") == "number ************ here"
    assert redact("atena 0001234567, offset 1234567890123") == "atena 0001234567, offset 1234567890123"


def test_exception_descriptions_are_redacted() -> None:
    text = describe_exception(ValueError("lookup of 123456789018 failed\nsecond line 999"))
    assert text == "ValueError: lookup of ************ failed"


def test_logs_mask_my_number_in_messages_and_fields(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("test-service", "INFO", "json")
    log = get_logger("t")
    log.info("applied change for 123456789018", my_number="123456789018", note="x 123456789018 y")
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert "123456789018" not in line
    record = json.loads(line)
    assert record["my_number"] == "[redacted]"
    assert record["service"] == "test-service"


def test_stdlib_loggers_of_libraries_are_redacted_too(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("test-service", "INFO", "json")
    logging.getLogger("aiokafka").warning("record with 123456789018 failed")
    assert "123456789018" not in capsys.readouterr().out
