"""PostgreSQL access: pools, and telling a transient failure (retry) from a permanent one."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

from .logs import OUTAGES

T = TypeVar("T")

# SQLSTATE classes that mean "try again later", not "this input is wrong".
_TRANSIENT_SQLSTATE_PREFIXES = ("08", "53", "57P", "40001", "40P01", "55P03", "58")


def is_transient(exc: BaseException) -> bool:
    """True for failures that go away by themselves: the database restarting, a network blip,
    too many connections, a serialisation failure or deadlock."""
    if isinstance(exc, (OSError, asyncio.TimeoutError, ConnectionError)):
        return True
    if isinstance(
        exc,
        (
            asyncpg.exceptions.ConnectionDoesNotExistError,
            asyncpg.exceptions.InterfaceError,
            asyncpg.exceptions.CannotConnectNowError,
            asyncpg.exceptions.TooManyConnectionsError,
        ),
    ):
        return True
    sqlstate = getattr(exc, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate.startswith(_TRANSIENT_SQLSTATE_PREFIXES)


async def create_pool(url: str, *, size: int = 10, retry_for_s: float = 60.0) -> asyncpg.Pool:
    """A pool; waits (with backoff) for the database to come up rather than failing at start."""

    async def connect() -> asyncpg.Pool:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=size, command_timeout=60)
        assert pool is not None
        return pool

    return await retry_transient(connect, budget_s=retry_for_s, what="connect to PostgreSQL")


async def retry_transient(
    operation: Callable[[], Awaitable[T]],
    *,
    budget_s: float,
    what: str,
    first_delay_s: float = 0.1,
    max_delay_s: float = 5.0,
) -> T:
    """Run ``operation``; on a transient failure wait (exponential backoff with jitter) and retry
    until ``budget_s`` is spent, then re-raise. Permanent failures are raised at once. The outage is
    logged when it starts and when ``operation`` works again (``OUTAGES``), across calls with the same ``what``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + budget_s
    delay = first_delay_s
    while True:
        try:
            result = await operation()
        except Exception as exc:
            if not is_transient(exc):
                raise
            OUTAGES.failed(what, exc)  # logged once per outage, not per attempt
            if loop.time() + delay > deadline:
                raise
            await asyncio.sleep(delay)
        else:
            OUTAGES.succeeded(what)
            return result
            delay = min(max_delay_s, delay * 2) * (0.8 + 0.4 * random.random())
