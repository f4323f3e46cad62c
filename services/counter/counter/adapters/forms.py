"""The counter's forms (届出・申請・請求の受付) and the 確認待ち list of corrections (four eyes).

A form is opened from a person's page (the 処理事由 of that view travels with it) and carries an idempotency key:
submitting it checks the fields with the contract's own model, then — in one transaction — records the
submission (unique by that key: a double click or a resubmitted form files once), puts the event in the
counter's outbox and appends the access-log row. Eligibility's answer arrives as an event and shows on the
person's page. The staff member and 部署 are the session's.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from kokunen_common.outbox import OutboxBuffer

from ..domain.access_log import Action
from ..domain.forms import FORMS, FormRefused, FormSpec, Submission, build_event
from ..domain.reasons import Reason
from ..domain.staff import Permission
from .pages import PageError, Pages, SignedIn
from .repository import Submissions

JST = ZoneInfo("Asia/Tokyo")
SOURCE = "/kokunen/counter"
CONFIRMATION = FORMS["confirmation"]
CONFIRMING = Reason("03", "確認待ちの訂正の内容確認 (訂正の確認)")
"""The 処理事由 of opening a waiting correction: the 確認者's duty itself (the confirmation asks for its own)."""


def queue_log_form(pending: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """As the access log keeps the 確認待ち list: each person once, with what the list showed of them."""
    shown: dict[str, dict[str, Any]] = {}
    for correction in pending:
        person = shown.setdefault(correction["atena_number"], {"宛名番号": correction["atena_number"], "受付番号": []})
        person["受付番号"].append(str(correction["submission_id"]))
    return list(shown.values())


def forms_router(pages: Pages) -> APIRouter:
    router = APIRouter()

    def spec_of(form_id: str) -> FormSpec:
        spec = FORMS.get(form_id[:60])
        if spec is None or spec.confirms:  # 訂正の確認 only from the 確認待ち list
            raise PageError(400, "入力内容を確認してください", "届出等の種類を選択してください。")
        return spec

    def key_of(value: str) -> uuid.UUID:
        try:
            return uuid.UUID(value[:60])
        except ValueError:
            raise PageError(
                400,
                "操作を受け付けられません",
                "入力画面の有効期限が切れたか、不正な送信です。画面を開き直してください。",
            ) from None

    def show_form(
        request: Request,
        me: SignedIn,
        reason: Reason,
        spec: FormSpec,
        atena_number: str,
        *,
        key: uuid.UUID | None = None,
        values: dict[str, Any] | None = None,
        refused: FormRefused | None = None,
    ) -> HTMLResponse:
        today = datetime.now(JST).date()
        return pages.render(
            request,
            "form.html",
            400 if refused else 200,
            signed_in=me,
            spec=spec,
            required=spec.required(),
            atena_number=atena_number,
            reason=reason,
            idempotency_key=key or uuid.uuid4(),
            form=values if values is not None else {"received_on": today.isoformat()},
            errors=refused.errors if refused else {},
            general=refused.general if refused else [],
        )

    async def file(
        request: Request, me: SignedIn, reason: Reason, key: uuid.UUID, submission: Submission
    ) -> HTMLResponse:
        """Record, publish (outbox) and log in one transaction — once per form."""
        event = submission.event
        atena_number: str = getattr(event, "atena_number")  # noqa: B009 - every submitted contract has it
        spec = submission.spec
        async with pages.logged(request, me, reason, Action.FILE) as access:
            submissions = Submissions(access.conn)
            first = await submissions.record(
                idempotency_key=key,
                submission_id=submission.submission_id,
                family=spec.family.value,
                event=event,
                kind=spec.kind,
                atena_number=atena_number,
                staff_id=me.staff.staff_id,
                department=me.staff.department,
                received_on=submission.received_on,
                confirms_id=submission.confirms_id,
            )
            if first:
                outbox = OutboxBuffer(schema="counter", source=SOURCE)
                outbox.publish(spec.family_spec.topic, event)
                await outbox.flush(access.conn)
                access.record(
                    atena_number=atena_number, query=f"{spec.title} 受付番号={submission.submission_id}", result_count=1
                )
                filed = {"submission_id": submission.submission_id, "kind": spec.kind, "atena_number": atena_number}
            else:  # filed before: nothing is written, not even a log row (the first submission has its own)
                filed = await submissions.by_key(key) or {}
        return pages.render(
            request,
            "submitted.html",
            signed_in=me,
            spec=spec,
            filed=filed,
            again=not first,
            reason=reason,
        )

    @router.post("/forms/open")
    async def open_form(
        request: Request,
        csrf_token: str = Form(""),
        reason_code: str = Form(""),
        reason_text: str = Form(""),
        atena_number: str = Form(""),
        form_id: str = Form(""),
    ) -> HTMLResponse:
        me, reason = await pages.allowed(request, csrf_token, Permission.FILE, reason_code, reason_text)
        return show_form(request, me, reason, spec_of(form_id), pages.checked_atena(atena_number))

    @router.post("/forms/submit")
    async def submit_form(request: Request) -> HTMLResponse:
        data = await request.form()
        text = {k: v for k, v in data.items() if isinstance(v, str)}
        me, reason = await pages.allowed(
            request,
            text.get("csrf_token", ""),
            Permission.FILE,
            text.get("reason_code", ""),
            text.get("reason_text", ""),
        )
        spec = spec_of(text.get("form_id", ""))
        atena_number = pages.checked_atena(text.get("atena_number", ""))
        key = key_of(text.get("idempotency_key", ""))
        values: dict[str, str | list[str]] = {
            f.name: [str(v) for v in data.getlist(f.name)] if f.widget == "checkboxes" else text.get(f.name, "")[:500]
            for f in spec.fields
        }
        try:
            submission = build_event(
                spec,
                values,
                atena_number=atena_number,
                staff=me.staff,
                submission_id=key,  # the 受付番号 is the form's key: a resubmission names the same filing
                today=datetime.now(JST).date(),
                recorded_at=datetime.now(UTC),
            )
        except FormRefused as refused:
            return show_form(request, me, reason, spec, atena_number, key=key, values=values, refused=refused)
        return await file(request, me, reason, key, submission)

    # --- four eyes: 確認待ち → 訂正の確認 by another staff member ------------------------------------------

    @router.get("/corrections")
    async def awaiting(request: Request) -> HTMLResponse:
        me = await pages.signed_in(request)
        pages.require(me, Permission.CONFIRM_CORRECTION)
        # The list shows each waiting correction's person (宛名番号, 受付番号, 受付日): an access to every one of
        # them, logged like a search's result list — one row naming each person shown — under the duty's reason,
        # in the transaction that read them.
        async with pages.logged(request, me, CONFIRMING, Action.CORRECTION_QUEUE) as access:
            pending = await Submissions(access.conn).awaiting_confirmation()
            access.record(query="確認待ちの訂正の一覧", result_count=len(pending), shown=queue_log_form(pending))
        return pages.render(request, "corrections.html", signed_in=me, pending=pending)

    async def pending_correction(me: SignedIn, submission_id: str) -> dict[str, Any]:
        async with pages.pool().acquire() as conn:
            correction = await Submissions(conn).correction(key_of(submission_id))
        return checked_correction(me, correction)

    def checked_correction(me: SignedIn, correction: dict[str, Any] | None) -> dict[str, Any]:
        if correction is None:
            raise PageError(404, "確認対象の訂正がありません", "受付番号を確認してください。")
        if correction["staff_id"] == me.staff.staff_id:  # the server decides, whatever the page offered
            raise PageError(
                403,
                "ご自身が入力した訂正は確認できません",
                "訂正は入力した職員とは別の職員が確認してください (特定個人情報保護評価書Ⅲ-2 リスク3)。",
            )
        return correction

    @router.post("/corrections/open")
    async def open_correction(
        request: Request, csrf_token: str = Form(""), submission_id: str = Form("")
    ) -> HTMLResponse:
        me = await pages.signed_in(request, csrf=csrf_token, check_csrf=True)
        pages.require(me, Permission.CONFIRM_CORRECTION)
        key = key_of(submission_id)
        # Showing what a correction changes is a view of the person's record: logged, under the duty's reason.
        async with pages.logged(request, me, CONFIRMING, Action.VIEW) as access:
            correction = checked_correction(me, await Submissions(access.conn).correction(key))
            access.record(
                atena_number=correction["atena_number"], query=f"確認待ちの訂正 受付番号={key}", result_count=1
            )
        return pages.render(
            request,
            "correction.html",
            signed_in=me,
            correction=correction,
            idempotency_key=uuid.uuid4(),
            fields=FORMS["record_correction"].fields,
        )

    @router.post("/corrections/confirm")
    async def confirm_correction(
        request: Request,
        csrf_token: str = Form(""),
        reason_code: str = Form(""),
        reason_text: str = Form(""),
        submission_id: str = Form(""),
        idempotency_key: str = Form(""),
    ) -> HTMLResponse:
        me, reason = await pages.allowed(request, csrf_token, Permission.CONFIRM_CORRECTION, reason_code, reason_text)
        correction = await pending_correction(me, submission_id)
        key = key_of(idempotency_key)
        try:
            submission = build_event(
                CONFIRMATION,
                {},
                atena_number=correction["atena_number"],
                staff=me.staff,
                submission_id=key,
                today=datetime.now(JST).date(),
                recorded_at=datetime.now(UTC),
                given={"confirms_filing_id": str(correction["submission_id"])},
            )
        except FormRefused as refused:
            raise PageError(400, "確認を受け付けられません", str(refused)) from None
        return await file(request, me, reason, key, submission)

    return router
