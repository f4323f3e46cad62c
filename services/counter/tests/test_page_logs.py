"""uvicorn's own lines (the counter's pages) are JSON like every other line of the service (issue 14 item 2): the
counter's server configuration leaves logging to the service's, so an error is one line with its exception."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from counter.page_workers import server_config
from counter.settings import CounterSettings
from kokunen_common.logs import configure_logging


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


def test_uvicorns_error_is_one_json_line_with_its_exception(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("counter", "INFO", "json")
    server_config(object(), CounterSettings(counter_http_port=8080))  # uvicorn configures its loggers here
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    out = capsys.readouterr().out
    records = [json.loads(line) for line in out.splitlines()]  # fails on any line that is not JSON
    (error,) = [r for r in records if r["event"] == "Exception in ASGI application"]
    assert (error["logger"], error["level"], error["service"]) == ("uvicorn.error", "error", "counter")
    assert "RuntimeError: boom" in error["exception"]
    assert "\x1b[" not in out
