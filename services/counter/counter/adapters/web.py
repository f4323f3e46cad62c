"""The staff's pages (FastAPI, server-rendered Jinja2, no JavaScript): sign-in, person inquiry (照会) with a
required 処理事由, My Number reveal for 個人番号取扱者, and the access log for auditors.

Every request that shows personal data writes its access-log row before it answers, and shows nothing unless the
row is committed (a pure read appends it as a statement of its own; a request that writes appends it in the write's
transaction); input is checked on the server (the form's checks are a convenience only); errors are Japanese
pages with the right HTTP status and never a traceback. Personal data travels in POST bodies, never in URLs (proxies
and logs keep URLs).
"""

from __future__ import annotations

import csv
import hmac
import io
import math
import secrets
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit
from zoneinfo import ZoneInfo

import asyncpg
from fastapi import FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from kokunen_common.crypto import MyNumberVault, SealError
from kokunen_common.logs import get_logger
from kokunen_contracts import counter as contracts_counter
from kokunen_contracts import eligibility as contracts_eligibility
from kokunen_contracts.transfer import SENT_FIELD_LABELS
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..domain import qualification
from ..domain.access_log import ACTION_LABELS, Action, persons_named
from ..domain.display import (
    MY_NUMBER_MASK,
    ShownPerson,
    both_dates,
    dependants_text,
    format_my_number,
    show_person,
    yen,
)
from ..domain.forms import forms_by_family, kind_label, label_of
from ..domain.reasons import AUDIT_REASON, REASON_LABELS, REASONS, Reason, ReasonRefused, require_reason
from ..domain.search import ATENA, SearchRefused, normalise, parse_search
from ..domain.sign_in_limits import SignInLimits
from ..domain.staff import PERMISSION_LABELS, POLICY, Permission, Role, Staff
from ..settings import CounterSettings
from .forms import forms_router
from .oidc import SignInRefused, identity_provider, staff_from_claims
from .pages import PageError, Pages, Pool, SignedIn
from .repository import (
    PERSON_PAGE,
    AccessLog,
    ReadModel,
    SessionCheck,
    Sessions,
    SignInFailures,
    found_people,
    new_id,
    person_page_of,
    search_statement,
)

log = get_logger(__name__)
HERE = Path(__file__).resolve().parent.parent
JST = ZoneInfo("Asia/Tokyo")
SESSION_KEY = "sid"
TOUCH_AFTER = 0.1
"""A session's last-seen time is written only once it is this fraction of the idle timeout old (not on every
request: a write per page serialised the pages). A session so ends 90–100 % of the idle time after its last use."""


class SecurityHeaders:
    """Headers on every answer (a plain ASGI middleware: Starlette's BaseHTTPMiddleware costs a task and a stream
    per request). Personal data never stays in a shared cache; no script runs; no page is framed."""

    def __init__(self, app: ASGIApp, form_action: str) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", (
                "default-src 'self'; script-src 'none'; object-src 'none'; frame-ancestors 'none'; "
                f"base-uri 'none'; form-action {form_action}"  # logout goes on to the IdP's end-session page
            ).encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
        ]  # fmt: skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"cache-control" or static]
                headers += self.headers
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


ROLES_ALLOWED = {p: [role.value for role, allowed in POLICY.items() if p in allowed] for p in Permission}
"""The roles that may do each thing (the inquiry pages check them in their read)."""

FORM_FIELDS_MAX = 40
"""More fields than any form of these pages has: a body with more is refused (400) before it is decoded further."""


async def posted_fields(request: Request) -> defaultdict[str, str]:
    """The fields of a posted form, "" for any not sent (as ``Form("")`` gave them; a repeated field: its last
    value). The inquiry pages' forms are urlencoded and parsed here directly: FastAPI's form parameters cost about
    a fifth of a search's or a view's CPU. Anything else (multipart) goes through Starlette's parser."""
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        body = (await request.body()).decode("utf-8", errors="replace")
        try:
            pairs = parse_qsl(body, keep_blank_values=True, max_num_fields=FORM_FIELDS_MAX)
        except ValueError:
            raise PageError(400, "入力内容を確認してください", "送信された内容の形式が正しくありません。") from None
        return defaultdict(str, pairs)
    form = await request.form(max_fields=FORM_FIELDS_MAX)
    return defaultdict(str, {name: value for name, value in form.items() if isinstance(value, str)})


def create_app(settings: CounterSettings, pool: Pool, vault: Callable[[], MyNumberVault | None]) -> FastAPI:
    """The web application; ``pool`` and ``vault`` are the running service's (started before requests come)."""
    secret = settings.session_secret()
    if len(secret) < 32:
        raise RuntimeError("COUNTER_SESSION_SECRET must be 32 characters or more (random)")
    app = FastAPI(
        title="窓口 (counter)",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        # One span per request (not one per dependency, endpoint and serialisation: CPU on every page), and no
        # exception messages recorded as logs (a message may quote personal data: the handler below logs the type).
        telemetry={"operation_spans": False, "logs": False},
    )
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie="counter_session",
        max_age=None,  # a browser session; the server ends it on logout or idle timeout
        same_site="lax",  # the IdP's redirect back is a top-level GET: Strict would drop the cookie there
        https_only=settings.counter_cookie_secure,
    )
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.auto_reload = False  # compiled once per process: no stat() of every template on every page
    templates.env.globals.update(
        both_dates=both_dates,
        yen=yen,
        dependants_text=dependants_text,
        REASONS=REASONS,
        REASON_LABELS=REASON_LABELS,
        ACTION_LABELS=ACTION_LABELS,
        Permission=Permission,
        MY_NUMBER_MASK=MY_NUMBER_MASK,
        SENT_FIELD_LABELS=SENT_FIELD_LABELS,
        jst=JST,
        label_of=label_of,
        kind_label=kind_label,
        c=contracts_counter,
        e=contracts_eligibility,
    )
    idp = identity_provider(settings)
    idle = timedelta(minutes=settings.counter_session_idle_minutes)
    limits = SignInLimits(
        window=timedelta(minutes=settings.counter_sign_in_failure_window_minutes),
        per_terminal=settings.counter_sign_in_failures_per_terminal,
        per_staff=settings.counter_sign_in_failures_per_staff,
    )
    static = HERE / "static"
    issuer = urlsplit(settings.oidc_issuer_url)
    idp_origin = f"{issuer.scheme}://{issuer.netloc}"

    def render(
        request: Request, template: str, status: int = 200, signed_in: SignedIn | None = None, **context: Any
    ) -> HTMLResponse:
        context.setdefault("errors", {})
        context.setdefault("form", {})
        return templates.TemplateResponse(
            request,
            template,
            {
                "me": signed_in.staff if signed_in else None,
                "csrf": signed_in.csrf_token if signed_in else "",
                **context,
            },
            status_code=status,
        )

    app.add_middleware(SecurityHeaders, form_action=f"'self' {idp_origin}")

    @app.exception_handler(PageError)
    async def page_error(request: Request, exc: PageError) -> HTMLResponse:
        page = render(request, "error.html", exc.status, title=exc.title, message=exc.message, sign_in=exc.sign_in)
        page.headers.update(exc.headers)
        return page

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> HTMLResponse:
        titles = {404: "ページが見つかりません", 405: "この操作はできません"}
        title = titles.get(exc.status_code, "要求を処理できません")
        return render(request, "error.html", exc.status_code, title=title, message="URLを確認してください。")

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> HTMLResponse:
        return render(
            request,
            "error.html",
            400,
            title="入力内容を確認してください",
            message="送信された内容の形式が正しくありません。",
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> HTMLResponse:
        # The type and the route template only: an exception's text and a person page's path (宛名番号) are
        # personal data.
        route = request.scope.get("route")
        log.error("counter page failed", route=getattr(route, "path", "unknown"), error=type(exc).__name__)
        return render(
            request,
            "error.html",
            500,
            title="システムエラーが発生しました",
            message="しばらくしてから操作をやり直してください。続く場合は情報システム担当にお問い合わせください。",
        )

    async def signed_in(request: Request, *, csrf: str | None = None, check_csrf: bool = False) -> SignedIn:
        session_id = request.session.get(SESSION_KEY)
        if not isinstance(session_id, str):
            raise PageError(401, "サインインしてください", "窓口システムを使うにはサインインが必要です。", sign_in=True)
        async with pool().acquire() as conn:
            sessions = Sessions(conn)
            row = await sessions.find(session_id)
            if row is None:
                request.session.clear()
                raise PageError(401, "サインインしてください", "サインアウト済みのセッションです。", sign_in=True)
            if row["db_now"] - row["last_seen_at"] > idle:
                await sessions.end(session_id)
                request.session.clear()
                raise PageError(
                    401,
                    "一定時間操作がなかったためサインアウトしました",
                    f"{settings.counter_session_idle_minutes}分間操作がありませんでした。もう一度サインインしてください。",
                    sign_in=True,
                )
            if row["db_now"] - row["last_seen_at"] > idle * TOUCH_AFTER:
                await sessions.touch(session_id)
        if check_csrf and not (csrf and hmac.compare_digest(csrf, row["csrf_token"])):
            raise PageError(
                403, "操作を受け付けられません", "画面の有効期限が切れたか、不正な送信です。画面を開き直してください。"
            )
        staff = Staff(row["staff_id"], row["staff_name"], row["department"], tuple(Role(r) for r in row["roles"]))
        return SignedIn(staff, session_id, row["csrf_token"])

    def require(me: SignedIn, permission: Permission) -> None:
        if not me.staff.may(permission):
            raise PageError(
                403,
                "権限がありません",
                f"この操作 ({PERMISSION_LABELS[permission]}) はあなたの権限 ({me.staff.role_labels}) では行えません。",
            )

    def terminal(request: Request) -> str:
        return request.client.host if request.client else "unknown"

    def log_entry(request: Request, me: SignedIn, reason: Reason, action: Action, **fields: Any) -> dict[str, Any]:
        return {
            "logged_at": datetime.now(UTC),
            "staff_id": me.staff.staff_id,
            "staff_name": me.staff.name,
            "department": me.staff.department,
            "terminal": terminal(request),
            "reason_code": reason.code,
            "reason_text": reason.text,
            "action": action.value,
            "atena_number": fields.get("atena_number"),
            "query": fields.get("query"),
            "result_count": fields.get("result_count"),
            "shown": {"persons": fields.get("shown", [])},  # 4情報 as shown, one entry per person on the screen
            "my_number_shown": fields.get("my_number_shown", False),
        }

    def checked_atena(value: str) -> str:
        atena = normalise(value[:100])
        if not ATENA.match(atena):
            raise PageError(400, "入力内容を確認してください", "宛名番号は半角数字15桁以内です。")
        return atena

    def checked_as_of(value: str) -> date | None:
        if not value:
            return None
        try:
            return date.fromisoformat(normalise(value[:40]))
        except ValueError:
            raise PageError(
                400, "入力内容を確認してください", "記録時点の日付は 2026-11-27 の形で入力してください。"
            ) from None

    async def allowed(
        request: Request, csrf_token: str, permission: Permission, code: str, text: str
    ) -> tuple[SignedIn, Reason]:
        """Signed in, the form is ours, the role allows it, and a 処理事由 is given — or a refusal page."""
        me = await signed_in(request, csrf=csrf_token, check_csrf=True)
        require(me, permission)
        try:
            return me, require_reason(code, text)
        except ReasonRefused as exc:
            raise PageError(
                400, "処理事由を入力してください", f"{exc.message}。処理事由のない照会は受け付けません。"
            ) from None

    pages = Pages(
        pool=pool,
        render=render,
        signed_in=signed_in,
        require=require,
        allowed=allowed,
        log_entry=log_entry,
        checked_atena=checked_atena,
    )

    async def sign_in_failed(request: Request, staff_id: str | None, problem: str) -> None:
        """For the auditors' monthly review (サインインの失敗): never the token or the claims, only what was wrong.
        Counted towards the terminal's and the staff member's sign-in limits."""
        async with pool().acquire() as conn:
            await SignInFailures(conn).record(terminal(request), staff_id, problem[:200], limits=limits)

    async def refuse_if_limited(request: Request, staff_id: str | None = None) -> None:
        """429 while the terminal (or the staff member) is over its limit of failed sign-ins; nothing is written
        (the row saying the limit was reached was written once, with the failure that reached it)."""
        async with pool().acquire() as conn:
            refused = await SignInFailures(conn).refusal(limits, terminal(request), staff_id)
        if refused is not None:
            wait = max(1, math.ceil((refused.until - datetime.now(UTC)).total_seconds()))
            raise PageError(
                429,
                "サインインを一時的に受け付けていません",
                refused.message(limits),
                headers={"Retry-After": str(wait)},  # for a client that retries by itself
            )

    # --- sign-in -----------------------------------------------------------------------------------

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok")

    @app.get("/login")
    async def login(request: Request) -> Response:
        await refuse_if_limited(request)  # before the IdP is asked: a limited terminal gets no authorization
        try:
            redirect: Response = await idp.authorize_redirect(request, f"{settings.public_url}/auth/callback")
        except Exception as exc:  # the IdP does not answer its discovery document
            log.error("identity provider unreachable", error=type(exc).__name__)
            raise PageError(
                503, "サインインできません", "認証サーバーに接続できません。しばらくしてからやり直してください。"
            ) from None
        return redirect

    @app.get("/auth/callback")
    async def callback(request: Request) -> Response:
        await refuse_if_limited(request)
        try:
            # authlib checks state, exchanges the code with the PKCE verifier, and verifies the ID token
            # (signature by the IdP's JWKS, issuer, audience, expiry, nonce) before any claim is read.
            token = await idp.authorize_access_token(request)
            claims = dict(token.get("userinfo") or {})
        except Exception as exc:  # forged, expired, replayed or mismatched: never signs anyone in
            log.warning("sign-in refused", error=type(exc).__name__)
            await sign_in_failed(request, None, f"認証の応答を確認できません ({type(exc).__name__})")
            raise PageError(
                400,
                "サインインできませんでした",
                "認証の応答を確認できませんでした (期限切れ・改ざん・やり直し)。もう一度サインインしてください。",
                sign_in=True,
            ) from None
        try:
            staff = staff_from_claims(claims, settings)
        except SignInRefused as exc:
            await sign_in_failed(request, None, str(exc))
            raise PageError(403, "サインインできませんでした", str(exc)) from None
        await refuse_if_limited(request, staff.staff_id)  # from any terminal: the staff member's own limit
        if not staff.roles:
            await sign_in_failed(request, staff.staff_id, "窓口システムの役割が割り当てられていません")
            raise PageError(403, "権限がありません", "この職員には窓口システムの役割が割り当てられていません。")
        session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        async with pool().acquire() as conn:
            await Sessions(conn).start(
                session_id, staff.staff_id, staff.name, staff.department, [r.value for r in staff.roles], csrf
            )
        request.session.clear()  # nothing of the sign-in handshake stays
        request.session[SESSION_KEY] = session_id
        return RedirectResponse("/", status_code=303)

    @app.post("/logout")
    async def logout(request: Request, csrf_token: str = Form("")) -> Response:
        me = await signed_in(request, csrf=csrf_token, check_csrf=True)
        async with pool().acquire() as conn:
            await Sessions(conn).end(me.session_id)
        request.session.clear()
        metadata = await idp.load_server_metadata()
        end_session = metadata.get("end_session_endpoint")
        target = f"{settings.public_url}/signed-out"
        if end_session:
            query = urlencode({"client_id": settings.oidc_client_id, "post_logout_redirect_uri": target})
            target = f"{end_session}?{query}"
        return RedirectResponse(target, status_code=303)

    @app.get("/signed-out")
    async def signed_out(request: Request) -> HTMLResponse:
        return render(request, "signed_out.html")

    # --- inquiry -----------------------------------------------------------------------------------

    @app.get("/")
    async def home(request: Request) -> HTMLResponse:
        me = await signed_in(request)
        return render(request, "home.html", signed_in=me)

    async def read_signed_in(
        request: Request, conn: asyncpg.Connection, csrf_token: str, permission: Permission, sql: str, *args: object
    ) -> tuple[SignedIn, list[asyncpg.Record]]:
        """The inquiry pages' read with their session check folded in (one statement, one snapshot, one round
        trip): ``sql`` runs only for a live session whose form (CSRF token) and role allow the page. When the
        session does not pass, ``signed_in`` and ``require`` say why (401 signed out or idle, 403)."""
        session_id = request.session.get(SESSION_KEY)
        rows = None
        if isinstance(session_id, str) and csrf_token:
            check = SessionCheck(session_id, csrf_token, ROLES_ALLOWED[permission], idle)
            rows = await Sessions(conn).read_signed_in(check, sql, *args)
        if rows is None or not isinstance(session_id, str):
            require(await signed_in(request, csrf=csrf_token, check_csrf=True), permission)
            raise PageError(401, "サインインしてください", "サインアウト済みのセッションです。", sign_in=True)
        first = rows[0]
        if first["session_idle_for"] > idle * TOUCH_AFTER:
            await Sessions(conn).touch(session_id)
        roles = tuple(Role(r) for r in first["session_roles"])
        staff = Staff(first["session_staff_id"], first["session_staff_name"], first["session_department"], roles)
        return SignedIn(staff, session_id, csrf_token), rows

    @app.post("/search")
    async def search(request: Request) -> HTMLResponse:
        posted = await posted_fields(request)
        csrf_token, reason_code, reason_text = posted["csrf_token"], posted["reason_code"], posted["reason_text"]
        atena_number, kana_name = posted["atena_number"], posted["kana_name"]
        birth_date, basic_pension_number = posted["birth_date"], posted["basic_pension_number"]
        form = {
            "reason_code": reason_code,
            "reason_text": reason_text[:400],
            "atena_number": atena_number[:100],
            "kana_name": kana_name[:100],
            "birth_date": birth_date[:100],
            "basic_pension_number": basic_pension_number[:100],
        }
        errors: dict[str, str] = {}
        reason: Reason | None = None
        try:
            reason = require_reason(reason_code, reason_text)
        except ReasonRefused as exc:
            errors[exc.field] = exc.message
        try:
            query = parse_search(atena_number, kana_name, birth_date, basic_pension_number)
        except SearchRefused as exc:
            errors.update(exc.errors)
        if errors or reason is None:  # the session, its form and its role first (401, 403), then the input (400)
            me = await signed_in(request, csrf=csrf_token, check_csrf=True)
            require(me, Permission.INQUIRE)
            return render(request, "home.html", 400, signed_in=me, form=form, errors=errors)
        # The read (with its session check), then its log row as a statement of its own: the page only once the
        # row is committed.
        async with pages.logged(request, None, reason, Action.SEARCH, transaction=False) as access:
            sql, args = search_statement(query)
            access.me, rows = await read_signed_in(request, access.conn, csrf_token, Permission.INQUIRE, sql, *args)
            shown = [show_person(r, access.me.staff, with_address=False) for r in found_people(rows)]
            access.record(query=query.describe(), result_count=len(shown), shown=[p.log_form() for p in shown])
        return render(request, "results.html", signed_in=access.me, people=shown, reason=reason, form=form, query=query)

    @app.post("/person")
    @app.post("/person/my-number")
    async def person(request: Request) -> HTMLResponse:
        """The person's page; at /person/my-number with the My Number shown, under its own 処理事由."""
        posted = await posted_fields(request)
        reveal = request.url.path.endswith("/my-number")
        prefix = "reveal_" if reveal else ""
        csrf_token, code, text = posted["csrf_token"], posted[f"{prefix}reason_code"], posted[f"{prefix}reason_text"]
        permission = Permission.REVEAL_MY_NUMBER if reveal else Permission.INQUIRE

        def given() -> tuple[Reason, str, date | None]:
            day = None if reveal else checked_as_of(posted["as_of"])
            return require_reason(code, text), checked_atena(posted["atena_number"]), day

        try:
            reason, atena_number, as_of = given()
        except (ReasonRefused, PageError):
            # The session, its form and its role first (401, 403), then the 処理事由 and the input (400).
            await allowed(request, csrf_token, permission, code, text)
            reason, atena_number, as_of = given()
        action = Action.REVEAL_MY_NUMBER if reveal else Action.VIEW
        # As in search: the page only after its log row is committed.
        async with pages.logged(request, None, reason, action, transaction=False) as access:
            # The person and every list of the page, with the session check: one statement.
            access.me, rows = await read_signed_in(
                request, access.conn, csrf_token, permission, PERSON_PAGE, atena_number
            )
            me = access.me
            row = person_page_of(rows[0])
            shown = None if row is None else show_person(row, me.staff)
            my_number: str | None = None
            if row is not None and reveal:
                my_number = await open_my_number(ReadModel(access.conn), atena_number)
            access.record(
                atena_number=atena_number,
                query=None if as_of is None else f"記録時点={as_of.isoformat()}",
                result_count=0 if row is None else 1,
                shown=[] if shown is None else [shown.log_form()],
                my_number_shown=my_number is not None,
            )
        if row is None or shown is None:  # after the commit: the attempt stays in the log
            raise PageError(404, "該当する方が見つかりません", f"宛名番号 {atena_number} の方は登録されていません。")
        today = datetime.now(JST).date()
        recorded_by = None if as_of is None else datetime.combine(as_of + timedelta(days=1), time(0), JST)
        periods = qualification.history(row["qualification_events"], recorded_by)
        submissions = row["submissions"]
        return render(
            request,
            "person.html",
            signed_in=me,
            person=shown,
            row=row,
            reason=reason,
            my_number=None if my_number is None else format_my_number(my_number),
            has_my_number=row["has_my_number"],
            periods=periods,
            current=qualification.current_period(periods, today),
            as_of=as_of,
            incomes=row["incomes"],
            outcomes=[o for o in row["outcomes"] if o["filing_id"] not in {s["submission_id"] for s in submissions}],
            premiums=row["premiums"],
            transfers=row["transfers"],
            submissions=submissions,
            screenings=row["screenings"],
            exemption_periods=row["exemption_periods"],
            forms=forms_by_family(),
            today=today,
        )

    async def open_my_number(model: ReadModel, atena_number: str) -> str | None:
        sealed = await model.sealed_my_number(atena_number)
        key = vault()
        if sealed is None or key is None:
            return None
        try:
            return key.open(sealed, atena_number).reveal()
        except SealError:
            log.error("a sealed My Number does not open", reason="wrong key or tampered")
            return None

    app.include_router(forms_router(pages))

    # --- the access log, for auditors --------------------------------------------------------------

    def audit_filters(staff_id: str, atena_number: str, since: str, until: str) -> dict[str, Any]:
        errors: dict[str, str] = {}
        filters: dict[str, Any] = {"staff_id": normalise(staff_id[:100]) or None, "atena_number": None}
        if len(staff_id) > 64:
            errors["staff_id"] = "職員IDは64文字以内です"
        if atena_number:
            atena = normalise(atena_number[:100])
            if ATENA.match(atena):
                filters["atena_number"] = atena
            else:
                errors["atena_number"] = "宛名番号は半角数字15桁以内です"
        for name, value, shift in (("since", since, 0), ("until", until, 1)):
            filters[name] = None
            if value:
                try:
                    day = date.fromisoformat(normalise(value[:40]))
                    filters[name] = datetime.combine(day + timedelta(days=shift), time(0), JST)
                except ValueError:
                    errors[name] = "日付は 2026-11-27 の形で入力してください"
        if errors:
            raise SearchRefused(errors)
        return filters

    def audit_fields(filters: dict[str, Any], entries: list[dict[str, Any]]) -> dict[str, Any]:
        """An auditor's read of the log is an access to every person it shows: its own row, naming the person
        searched for (宛名番号) and every person the answer showed (by 宛名番号 only)."""
        conditions = [
            f"{label}={value if not isinstance(value, datetime) else value.astimezone(JST).date().isoformat()}"
            for label, value in (("職員", filters["staff_id"]), ("宛名番号", filters["atena_number"]),
                                 ("から", filters["since"]), ("まで(翌日)", filters["until"]))
            if value
        ]  # fmt: skip
        return {
            "atena_number": filters["atena_number"],
            "query": " ".join(conditions) or "条件なし",
            "result_count": len(entries),
            "shown": [{"宛名番号": a} for a in persons_named(entries)],
        }

    @app.get("/audit")
    async def audit(
        request: Request, staff_id: str = "", atena_number: str = "", since: str = "", until: str = ""
    ) -> HTMLResponse:
        me = await signed_in(request)
        require(me, Permission.READ_ACCESS_LOG)
        form = {
            "staff_id": staff_id[:100],
            "atena_number": atena_number[:100],
            "since": since[:40],
            "until": until[:40],
        }
        try:
            filters = audit_filters(staff_id, atena_number, since, until)
        except SearchRefused as exc:
            return render(request, "audit.html", 400, signed_in=me, form=form, errors=exc.errors, entries=[])
        async with pages.logged(request, me, AUDIT_REASON, Action.AUDIT_SEARCH) as access:
            entries = await AccessLog(access.conn).search(**filters)
            access.record(**audit_fields(filters, entries))
        return render(request, "audit.html", signed_in=me, form=form, entries=entries, searched=True)

    @app.get("/audit/export.csv")
    async def audit_export(
        request: Request, staff_id: str = "", atena_number: str = "", since: str = "", until: str = ""
    ) -> Response:
        me = await signed_in(request)
        require(me, Permission.READ_ACCESS_LOG)
        try:
            filters = audit_filters(staff_id, atena_number, since, until)
        except SearchRefused as exc:
            raise PageError(400, "入力内容を確認してください", str(exc)) from None
        async with pages.logged(request, me, AUDIT_REASON, Action.AUDIT_EXPORT) as access:
            entries = await AccessLog(access.conn).search(**filters, limit=100_000)
            access.record(**audit_fields(filters, entries))
        return Response(
            export_csv(entries),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="access-log.csv"'},
        )

    @app.get("/static/{name}")
    async def static_file(name: str) -> Response:
        if name == "tokens.css":
            path = settings.counter_design_tokens_css
            css = path.read_text() if path is not None and path.is_file() else "/* design tokens not installed */"
            return Response(css, media_type="text/css", headers={"Cache-Control": "max-age=3600"})
        if name != "counter.css":
            raise PageError(404, "ページが見つかりません", "URLを確認してください。")
        return Response(
            (static / "counter.css").read_text(), media_type="text/css", headers={"Cache-Control": "max-age=3600"}
        )

    from .records import records_router  # here: records.py imports this module

    app.include_router(records_router(pages))
    return app


EXPORT_COLUMNS = ("連番", "処理日時", "職員", "職員名", "部署", "端末", "処理事由コード", "処理事由", "操作",
                  "宛名番号", "検索条件", "該当件数", "表示した4情報", "個人番号表示")  # fmt: skip


def export_csv(entries: list[dict[str, Any]]) -> str:
    """The access log as CSV (UTF-8 with BOM, for Excel). Persons under 処理停止 leave by 宛名番号 only: their
    name, birth date, sex and address never go into an export."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for e in entries:
        shown = "; ".join(_exported_person(p) for p in e["shown"]["persons"])
        writer.writerow(
            [
                e["seq"],
                e["logged_at"].astimezone(JST).isoformat(timespec="seconds"),
                e["staff_id"],
                e["staff_name"],
                e["department"],
                e["terminal"],
                e["reason_code"],
                _safe_cell(e["reason_text"]),
                ACTION_LABELS.get(Action(e["action"]), e["action"]),
                e["atena_number"] or "",
                _safe_cell(e["query"] or ""),
                "" if e["result_count"] is None else e["result_count"],
                _safe_cell(shown),
                "あり" if e["my_number_shown"] else "なし",
            ]
        )
    return out.getvalue()


def _exported_person(person: dict[str, Any]) -> str:
    if person.get("処理停止"):
        return f"{person['宛名番号']} (処理停止)"
    return " ".join(str(person.get(k, "")) for k in ("宛名番号", "氏名", "生年月日", "性別", "住所")).strip()


def _safe_cell(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


__all__ = ["PageError", "ShownPerson", "create_app", "export_csv", "new_id"]
