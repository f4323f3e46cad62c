"""Liveness and readiness, served beside ``/metrics`` on ``METRICS_PORT``.

One small HTTP server runs in the service's own event loop, so an answer to ``/livez`` proves the loop
turns — and ``/livez`` answers 503 once a part that cannot come back by itself has ended (the outbox relay or a
background job: only a restart brings it back, so the kubelet should restart the pod); ``/readyz`` asks
the runtime's checks (database reachable, broker connected, partitions assigned, outbox relay not stalled) and
answers 200 when all pass, 503 with the failing ones otherwise. Bodies are JSON and name checks and reasons only —
never a person's data.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Mapping

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from .logs import get_logger

log = get_logger(__name__)

Checks = Callable[[], Awaitable[Mapping[str, str | None]]]
"""Check name → ``None`` when it passes, else why it does not (a short sentence)."""
Liveness = Callable[[], str | None]
"""``None`` while the process can still recover by itself, else why it cannot (a short sentence)."""

_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


def readiness_body(results: Mapping[str, str | None]) -> tuple[int, dict[str, object]]:
    """Status code and JSON body of ``/readyz`` for the checks' results."""
    failing = {name: reason for name, reason in results.items() if reason is not None}
    body: dict[str, object] = {
        "status": "not ready" if failing else "ready",
        "checks": {name: reason or "ok" for name, reason in results.items()},
    }
    return (503 if failing else 200), body


class HealthServer:
    """``GET /livez``, ``GET /readyz`` and ``GET /metrics`` (Prometheus text) on one port."""

    def __init__(
        self,
        port: int,
        readiness: Checks,
        *,
        liveness: Liveness = lambda: None,
        host: str = "0.0.0.0",  # noqa: S104 - probed by the kubelet
    ) -> None:
        self.port = port
        self.host = host
        self._readiness = readiness
        self._liveness = liveness
        self._server: asyncio.Server | None = None
        self.stopping = False

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), timeout=5)
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
            method, _, rest = request.decode("latin-1").partition(" ")
            path = rest.partition(" ")[0].partition("?")[0]
            status, content_type, body = await self.answer(method, path)
            head = (
                f"HTTP/1.1 {status} {_REASONS.get(status, '')}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode("latin-1") + (body if method != "HEAD" else b""))
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
            pass  # a probe that hung up or sent garbage gets no answer
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def answer(self, method: str, path: str) -> tuple[int, str, bytes]:
        if method not in ("GET", "HEAD"):
            return 405, "text/plain", b"GET only\n"
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest(REGISTRY)
        if path == "/livez":
            # Alive while the loop answers, shutting down included: a restart would only cut the shutdown short.
            fault = None if self.stopping else self._liveness()
            if fault is None:
                return 200, "application/json", b'{"status": "alive"}\n'
            return 503, "application/json", (json.dumps({"status": "dead", "reason": fault}) + "\n").encode()
        if path == "/readyz":
            body: dict[str, object]
            if self.stopping:
                status, body = 503, {"status": "stopping", "checks": {}}
            else:
                status, body = readiness_body(await self._readiness())
            return status, "application/json", (json.dumps(body, ensure_ascii=False) + "\n").encode()
        return 404, "text/plain", b"/livez, /readyz or /metrics\n"
