"""A lean HTTP/1.1 client for load generation: one keep-alive connection per staff session, requests written as
bytes, answers parsed by httptools (C, already in the lock as uvicorn's parser). It does what the bench's pages
need and nothing more — no redirects, no cookie jar (the session's cookie, from a real sign-in through the OIDC
provider with httpx, is sent as it was set), no retries, no TLS — so the load generator's own CPU per request is a
fraction of httpx's (pure-Python h11, its request and response models) and distorts a shared machine less."""

from __future__ import annotations

import asyncio
import contextlib
import time
from urllib.parse import urlencode, urlsplit

import httptools

IDLE_RECONNECT_S = 60.0
"""A connection unused for this long is replaced before the next request, not reused: the counter closes idle
connections after 75 s, and a POST sent just as it does would be lost (never retried: it writes a log row)."""


class PageFailed(RuntimeError):
    pass


class _Answer:
    """httptools' callbacks: the body, and whether the message is complete."""

    def __init__(self) -> None:
        self.body: list[bytes] = []
        self.complete = False

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True


class LightClient:
    """POSTs urlencoded forms to one server as one signed-in staff member (``cookie``: ``name=value``)."""

    def __init__(self, base_url: str, cookie: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.cookie = cookie
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._last_used = 0.0

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._writer is not None and time.monotonic() - self._last_used > IDLE_RECONNECT_S:
            await self.aclose()
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self._reader, self._writer

    async def post(self, path: str, form: dict[str, str]) -> tuple[int, bytes]:
        """The status and body of one POST of ``form`` to ``path``."""
        reader, writer = await self._connection()
        body = urlencode(form).encode()
        writer.write(
            b"POST %s HTTP/1.1\r\nHost: %s:%d\r\nCookie: %s\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: %d\r\n\r\n%s"
            % (path.encode(), self.host.encode(), self.port, self.cookie.encode(), len(body), body)
        )
        answer = _Answer()
        parser = httptools.HttpResponseParser(answer)
        while not answer.complete:
            data = await reader.read(65536)
            if not data:
                await self.aclose()
                raise PageFailed(f"the server closed the connection during POST {path}")
            parser.feed_data(data)
        self._last_used = time.monotonic()
        if not parser.should_keep_alive():
            await self.aclose()
        return parser.get_status_code(), b"".join(answer.body)

    async def aclose(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None
