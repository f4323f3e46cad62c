"""What a real service process prints: every line one JSON object (FastStream's and aiokafka's included),
the trace id of the message a line is about, and a one-line reason when it cannot start."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from kokunen_contracts.envelope import cloudevent_headers
from kokunen_contracts.registry import RESIDENT_CHANGED
from kokunen_contracts.residency import ChangeReason
from kokunen_testing.factories import change, resident
from kokunen_testing.infra import load_localstack
from kokunen_testing.platform import Platform, eventually, unique_atena

pytestmark = pytest.mark.integration


def start(platform: Platform, output: Path, **env: str) -> subprocess.Popen[bytes]:
    environment = {**os.environ, **platform.service_env("residency_sync"), "LOG_LEVEL": "INFO", **env}
    with output.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "residency_sync", "run"], env=environment, stdout=sink, stderr=subprocess.STDOUT
        )


def json_lines(output: Path, *, complete_only: bool = False) -> list[dict[str, Any]]:
    """Every line of the log as JSON (fails on any line that is not); ``complete_only`` while the service still
    writes: a last line without its newline yet is left for the next read."""
    text = output.read_text()
    assert "\x1b[" not in text, "ANSI colour codes in the log"
    if complete_only:
        text = text.rpartition("\n")[0]
    return [json.loads(line) for line in text.splitlines()]


async def test_every_line_is_json_and_a_rejected_message_is_logged_in_its_trace(
    platform: Platform, tmp_path: Path
) -> None:
    # The message is on the topic before the service starts, under a consumer group of its own committed at the
    # topic's end just before: the service reads it first, whatever earlier tests left unread in the shared
    # "residency_sync" group, and without a readiness probe (a port chosen here and bound seconds later).
    group = f"residency_sync-logs-{uuid.uuid4().hex[:8]}"
    await platform.group_at_end(group, RESIDENT_CHANGED.name)
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    bad = change(ChangeReason.MOVE_WITHIN_CITY, resident(unique_atena()), date(2026, 11, 8))
    body = json.loads(bad.model_dump_json())
    body["resident"]["my_number"] = "123456789012"  # wrong check digit: dead-lettered
    headers = cloudevent_headers(bad, source="/test/upstream", traceparent=f"00-{trace_id}-{parent_id}-01")
    async with platform.producer() as producer:
        await producer.send_and_wait(
            RESIDENT_CHANGED.name,
            json.dumps(body).encode(),
            key=body["resident"]["atena_number"].encode(),
            headers=headers,
        )
    output = tmp_path / "residency_sync.log"
    service = start(platform, output, CONSUMER_GROUP=group)
    try:

        async def rejection_logged() -> bool:
            if any(r.get("trace_id") == trace_id for r in json_lines(output, complete_only=True)):
                return True
            assert service.poll() is None, f"exited with {service.returncode}:\n{output.read_text()[-4000:]}"
            return False

        # Start-up included (imports, migrations check, group join): a condition, not a pause.
        await eventually(rejection_logged, timeout_s=240, interval_s=0.5)
    finally:
        service.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(service.wait, 60)
    assert code == 0
    records = json_lines(output)
    (rejected,) = [r for r in records if r.get("trace_id") == trace_id]
    assert rejected["event"] == "message rejected to the dead-letter topic"
    assert len(rejected["span_id"]) == 16
    assert rejected["span_id"] != parent_id  # the service's own span, child of the sender's
    assert "123456789012" not in output.read_text()
    events = [r["event"] for r in records]
    assert "FastStream app starting..." in events
    assert "FastStream app shut down gracefully." in events
    assert all(r["service"] == "residency_sync" and r["level"] and r["timestamp"] for r in records)


async def test_a_service_whose_broker_is_unreachable_exits_with_one_clear_line(
    platform: Platform, tmp_path: Path
) -> None:
    output = tmp_path / "residency_sync.log"
    nowhere = f"127.0.0.1:{load_localstack().free_port()}"
    service = start(platform, output, KAFKA_BOOTSTRAP_SERVERS=nowhere)
    code = await asyncio.to_thread(service.wait, 120)
    assert code == 1
    records = json_lines(output)
    errors = [r for r in records if r["level"] == "error" and r.get("logger") is None]
    assert [r["event"] for r in errors] == [f"cannot reach Kafka at {nowhere}; exiting"]
    assert "exception" not in errors[0]  # an outage, not a fault: no traceback
    assert len(records) <= 5, records
