"""/livez, /readyz and /metrics from the one health server, over a real socket."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Mapping

from kokunen_common.health import HealthServer
from kokunen_common.service import jobs_state, relay_state


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _get(port: int, path: str, method: str = "GET") -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    response = await reader.read()
    writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def test_ready_only_when_every_check_passes_and_the_failing_ones_are_named() -> None:
    results: dict[str, str | None] = {"database": None, "broker": None}

    async def readiness() -> Mapping[str, str | None]:
        return results

    server = HealthServer(_free_port(), readiness, host="127.0.0.1")
    await server.start()
    try:
        status, body = await _get(server.port, "/readyz")
        assert status == 200
        assert json.loads(body) == {"status": "ready", "checks": {"database": "ok", "broker": "ok"}}

        results["database"] = "PostgreSQL is not reachable (ConnectionRefusedError)"
        status, body = await _get(server.port, "/readyz?verbose=1")
        assert status == 503
        assert json.loads(body)["checks"]["database"].startswith("PostgreSQL is not reachable")
        assert (await _get(server.port, "/livez"))[0] == 200  # not ready is not dead

        status, body = await _get(server.port, "/metrics")
        assert status == 200
        assert b"# TYPE" in body
        assert (await _get(server.port, "/healthz"))[0] == 404
        assert (await _get(server.port, "/readyz", "POST"))[0] == 405

        server.stopping = True
        assert (await _get(server.port, "/readyz"))[0] == 503
        assert (await _get(server.port, "/livez"))[0] == 200
    finally:
        await server.stop()


async def test_dead_when_a_part_that_cannot_come_back_has_ended_unless_stopping() -> None:
    fault: list[str] = []

    async def readiness() -> Mapping[str, str | None]:
        return {}

    server = HealthServer(_free_port(), readiness, liveness=lambda: fault[0] if fault else None, host="127.0.0.1")
    await server.start()
    try:
        assert await _get(server.port, "/livez") == (200, b'{"status": "alive"}\n')
        fault.append("background task ended: calendar_job")
        status, body = await _get(server.port, "/livez")
        assert status == 503
        assert json.loads(body) == {"status": "dead", "reason": "background task ended: calendar_job"}
        server.stopping = True  # a task ending during the shutdown is the shutdown, not a fault
        assert (await _get(server.port, "/livez"))[0] == 200
    finally:
        await server.stop()


async def test_a_relay_is_stalled_when_its_last_cycle_is_too_old_or_it_ended() -> None:
    running = asyncio.create_task(asyncio.sleep(60))
    ended = asyncio.create_task(asyncio.sleep(0))
    await ended
    try:
        assert relay_state(running, alive_at=100.0, now=130.0, stall_after_s=60) is None
        assert relay_state(running, alive_at=100.0, now=161.0, stall_after_s=60) == "stalled: no cycle for 61 s"
        assert relay_state(ended, alive_at=100.0, now=101.0, stall_after_s=60) == "the relay has ended"
        assert relay_state(None, None, now=1.0, stall_after_s=60) == "not started"
    finally:
        running.cancel()


async def test_background_jobs_are_ready_while_all_of_them_run() -> None:
    async def run_until_stopped() -> None:
        await asyncio.sleep(60)

    async def crash() -> None:
        raise RuntimeError("port in use")

    pages = asyncio.create_task(run_until_stopped(), name="web_pages")
    calendar = asyncio.create_task(crash(), name="calendar_job")
    await asyncio.wait([calendar])
    try:
        assert jobs_state([pages]) is None
        assert jobs_state([pages, calendar]) == "ended: calendar_job"
        assert jobs_state([]) == "not started"
    finally:
        pages.cancel()
