"""What the counter's page modules share: the refusal page, the signed-in staff member, and the helpers of the
web application (``web.create_app`` builds them; each module of pages is an APIRouter made from them)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from fastapi import Request
from fastapi.responses import HTMLResponse

from ..domain.reasons import Reason
from ..domain.staff import Permission, Staff


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


__all__ = ["PageError", "Pages", "Pool", "SignedIn"]
