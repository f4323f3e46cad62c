"""What the counter's page modules share: the refusal page, the signed-in staff member, and the helpers of the
web application (``web.create_app`` builds them; each module of pages is an APIRouter made from them)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import asyncpg
from fastapi import Request
from fastapi.responses import HTMLResponse

from ..domain.access_log import Action
from ..domain.reasons import Reason
from ..domain.staff import Permission, Staff
from .repository import AccessLog


class PageError(Exception):
    """A request refused with a Japanese explanation and an HTTP status."""

    def __init__(
        self, status: int, title: str, message: str, *, sign_in: bool = False, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message
        self.sign_in = sign_in
        self.headers = headers or {}


@dataclass(frozen=True)
class SignedIn:
    staff: Staff
    session_id: str
    csrf_token: str


Pool = Callable[[], asyncpg.Pool]


class LoggedAccess:
    """One access to personal data being served (アクセスログの1行): ``conn`` for its reads (and writes), and
    ``record(**fields)`` saying what it showed — the row ``Pages.logged`` appends when the block ends."""

    def __init__(self, conn: asyncpg.Connection, me: SignedIn | None, entry_of: Callable[..., dict[str, Any]]) -> None:
        self.conn = conn
        self.me = me
        """The staff member; a page whose session check is folded into its read sets it after that read."""
        self._entry_of = entry_of
        self.entry: dict[str, Any] | None = None

    def record(self, **fields: Any) -> dict[str, Any]:
        """The access-log row of this access (``atena_number``, ``query``, ``result_count``, ``shown``,
        ``my_number_shown``); returned, so that an export can list its own making."""
        if self.me is None:
            raise RuntimeError("an access is logged as the signed-in staff member: check the session first")
        self.entry = self._entry_of(self.me, **fields)
        return self.entry


@dataclass(frozen=True)
class Pages:
    """The application's helpers, for the modules of pages beside ``web``."""

    pool: Pool
    render: Callable[..., HTMLResponse]
    """``render(request, template, status=200, signed_in=None, **context)``: a Japanese page."""
    signed_in: Callable[..., Awaitable[SignedIn]]
    """``signed_in(request, csrf=…, check_csrf=…)``: the session's staff member, or a refusal page."""
    require: Callable[[SignedIn, Permission], None]
    allowed: Callable[[Request, str, Permission, str, str], Awaitable[tuple[SignedIn, Reason]]]
    """Signed in, CSRF checked, the role allows it, and a 処理事由 is given — or a refusal page."""
    log_entry: Callable[..., dict[str, Any]]
    """``log_entry(request, me, reason, action, **fields)``: an access-log row."""
    checked_atena: Callable[[str], str]

    @asynccontextmanager
    async def logged(
        self, request: Request, me: SignedIn | None, reason: Reason, action: Action, *, transaction: bool = True
    ) -> AsyncIterator[LoggedAccess]:
        """A connection for an access and its log row: the row the block ``record``-ed is appended when the block
        ends without an error, as its last statement — in the block's transaction (the lane is held only until
        the commit), or, with ``transaction=False`` (a pure read), as a statement of its own committed at once.
        Either way the caller answers only after the block, i.e. once the row is committed; a failed append is a
        system error page that shows nothing. A block that records nothing appends nothing (a resubmitted form,
        which files nothing). ``me`` None: the block checks the session with its read and sets ``access.me``."""
        async with self.pool().acquire() as conn:
            in_transaction: AbstractAsyncContextManager[object] = conn.transaction() if transaction else nullcontext()
            async with in_transaction:
                access = LoggedAccess(
                    conn, me, lambda who, **fields: self.log_entry(request, who, reason, action, **fields)
                )
                yield access
                if access.entry is not None:
                    await AccessLog(conn).append(access.entry)


__all__ = ["LoggedAccess", "PageError", "Pages", "Pool", "SignedIn"]
