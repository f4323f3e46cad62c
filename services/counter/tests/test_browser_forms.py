"""The counter's forms in a real Chromium on the real services: a clerk files every kind of 届出 from a person's
page (one browser session, many forms) and sees eligibility's answer — accepted, waiting for confirmation, or
refused with its reason and article in Japanese; exemption applications, 法定免除・産前産後 notifications and
裁定請求 through to their screening and checks on the page; a correction confirmed by a second staff member (and
refused to its own author by the server)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from counter.adapters.repository import ReadModel
from kokunen_common.service import ServiceRuntime
from kokunen_contracts.eligibility import ExemptionApplicationKind, ExemptionDecided, ExemptionTier, JpsDecision
from kokunen_contracts.registry import EXEMPTION_DECIDED, INCOME_DETERMINED, PERSON_CHANGED
from kokunen_contracts.residency import PersonChangeKind
from kokunen_contracts.tax import IncomeDetermined
from kokunen_testing.factories import JST, income_assessed, person_changed
from kokunen_testing.platform import eventually, unique_atena
from playwright.async_api import Browser, Page

from .browsing import log_rows, open_person, shot, staff_page
from .conftest import CounterWorld

pytestmark = pytest.mark.integration

INSURED_FROM = date(2024, 4, 1)  # 国外転入: 第1号被保険者 from that day (国民年金法8条2号)


@dataclass
class Desk:
    world: CounterWorld
    filer: str  # 宛名番号 of the person every 届出 kind is filed for
    applicant: str  # 宛名番号 of the person of the applications, notifications, claims and corrections
    fiscal_year: int  # the current 年度 (July–June) the exemption application asks for


def current_fiscal_year(today: date) -> int:
    """The 年度 of 免除 (July to June) that holds today."""
    return today.year if today.month >= 7 else today.year - 1


@pytest.fixture(scope="module")
async def desk(counter_world: CounterWorld) -> AsyncIterator[Desk]:
    """Two fresh persons (第1号 from a move in from abroad) with the income the current 年度 is screened on, and
    eligibility running to answer the counter's filings."""
    platform = counter_world.platform
    filer, applicant = unique_atena(), unique_atena()
    year = current_fiscal_year(datetime.now(JST).date())
    persons = [
        person_changed(atena, PersonChangeKind.MOVED_IN_FROM_ABROAD, INSURED_FROM, birth=date(1995, 5, 10))
        for atena in (filer, applicant)
    ]
    assessed = income_assessed(applicant, year - 1)
    income = IncomeDetermined(
        **assessed.model_dump(include=set(IncomeDetermined.model_fields) - {"kind", "person_verified"}),
        kind="determined",
        person_verified=True,
    )
    eligibility: ServiceRuntime = platform.build("eligibility")
    await eligibility.start()
    try:
        await platform.publish(PERSON_CHANGED, persons)
        await platform.publish(INCOME_DETERMINED, [income])

        async def insured() -> bool:
            conn = await platform.admin()
            try:
                count = await conn.fetchval(
                    "SELECT count(DISTINCT atena_number) FROM counter.qualification_event "
                    "WHERE atena_number = ANY($1::text[])",
                    [filer, applicant],
                )
            finally:
                await conn.close()
            return count == 2

        await eventually(insured, timeout_s=120)
        yield Desk(counter_world, filer, applicant, year)
    finally:
        await eligibility.stop()


async def answers(world: CounterWorld, atena: str) -> list[dict[str, Any]]:
    """The person's submissions with eligibility's answer, once every one of them has one."""
    conn = await world.platform.admin()
    try:
        rows = await ReadModel(conn).submissions(atena)
    finally:
        await conn.close()
    return rows if rows and all(r["answer"] is not None for r in rows) else []


async def fill(page: Page, values: dict[str, Any]) -> None:
    for name, value in values.items():
        if isinstance(value, list):
            for member in value:
                await page.check(f"#{name}-{member}")
        elif value is True:
            await page.check(f"#{name}")
        elif await page.locator(f"select#{name}").count():
            await page.select_option(f"#{name}", value)
        else:
            await page.fill(f"#{name}", value)


async def open_form(page: Page, form_id: str) -> None:
    """From the person's page to the form."""
    await page.select_option("#form_id", form_id)
    async with page.expect_navigation():
        await page.click("button:has-text('入力画面を開く')")


async def file_form(page: Page, form_id: str, values: dict[str, Any]) -> str:
    """From the person's page: open the form, fill it, file it; back on the person's page. The 受付番号."""
    await open_form(page, form_id)
    await fill(page, values)
    async with page.expect_navigation() as nav:
        await page.click("button:has-text('受け付ける')")
    assert (await nav.value).status == 200, f"{form_id}: {await page.locator('.notice').inner_text()}"
    submission_id = (await page.locator("#submission-id").inner_text()).strip()
    async with page.expect_navigation():
        await page.click("button:has-text('処理結果を確認する')")
    return submission_id


async def refresh_until_answered(page: Page, world: CounterWorld, atena: str) -> str:
    await eventually(lambda: answers(world, atena), timeout_s=120)
    if await page.locator("#refresh").count():
        async with page.expect_navigation():
            await page.click("button:has-text('最新の状態に更新')")
    return await page.locator("#submissions").inner_text()


def today_text() -> str:
    return datetime.now(JST).date().isoformat()


FILINGS: list[tuple[str, dict[str, Any], str]] = [
    # form, fields, what the person's page says of the answer
    ("qualification_acquisition",
     {"category": "category_1", "acquired_on": INSURED_FROM.isoformat(), "acquisition_reason": "moved_in_from_abroad"},
     "既に記録された資格を届出により確認"),
    ("voluntary_application", {"acquired_on": "2025-01-01"}, "不受理"),  # already 第1号: no 任意加入
    ("name_change", {"note": "婚姻による氏の変更"}, "受理"),
    ("address_change", {"note": "市内転居"}, "受理"),
    ("pension_number_notice_reissue", {"note": "紛失"}, "受理"),
    ("additional_premium_application", {}, "受理"),
    ("additional_premium_withdrawal", {}, "受理"),
    ("record_correction", {"corrects_period_acquired_on": INSURED_FROM.isoformat(), "acquired_on": "2024-04-02"},
     "確認待ち"),
    ("qualification_loss", {"lost_on": "2024-03-01", "loss_reason": "became_excluded"}, "不受理"),
    ("category_change", {"effective_date": "2025-10-01", "previous_category": "category_1", "category": "category_2"},
     "受理"),
]  # fmt: skip


async def test_a_clerk_files_every_kind_of_filing_and_sees_each_answer(browser: Browser, desk: Desk) -> None:
    world = desk.world
    async with staff_page(browser, world, "madoguchi") as page:
        await open_person(page, desk.filer, "届出の受付", code="01")

        # The contract's rules, in Japanese beside the field; nothing is filed.
        await open_form(page, "qualification_loss")
        await page.fill("#basic_pension_number", "12345")
        async with page.expect_navigation() as nav:
            await page.click("button:has-text('受け付ける')")
        assert (await nav.value).status == 400
        assert "必須" in await page.locator("#lost_on-error").inner_text()
        assert "必須" in await page.locator("#loss_reason-error").inner_text()
        assert "数字4桁-6桁" in await page.locator("#basic_pension_number-error").inner_text()
        assert "staff_id" not in await page.content()  # the form has no staff fields: the session's are used
        await shot(page, world, "21-filing-form-errors")
        async with page.expect_navigation():
            await page.click("button:has-text('個人の照会に戻る')")

        filed = {form_id: await file_form(page, form_id, values) for form_id, values, _ in FILINGS}
        text = await refresh_until_answered(page, world, desk.filer)
        await shot(page, world, "22-person-filings-answered")
        rows = page.locator("#submissions tbody tr")
        assert await rows.count() == len(FILINGS)
        for form_id, _, expected in FILINGS:
            row = await page.locator("#submissions tbody tr", has_text=filed[form_id][:12]).inner_text()
            assert expected in row, (form_id, row)
            if expected == "受理":
                assert "不受理" not in row, (form_id, row)
        # A refusal says why and on what rule, in Japanese.
        assert "任意加入の要件を満たしません" in text
        assert "国民年金法附則5条1項" in text

    conn = await world.platform.admin()
    try:
        stored = await conn.fetch(
            "SELECT staff_id, department, payload FROM counter.submission WHERE atena_number = $1", desk.filer
        )
        published = await conn.fetchval(
            "SELECT count(*) FROM counter.outbox WHERE topic = 'counter.filing-submitted.v1' AND message_key = $1",
            desk.filer,
        )
    finally:
        await conn.close()
    assert {(r["staff_id"], r["department"]) for r in stored} == {("madoguchi", "北区役所 保険年金課")}
    assert published == len(FILINGS)
    filings = await log_rows(world, "madoguchi")
    assert sum(1 for r in filings if r["action"] == "file" and r["atena_number"] == desk.filer) == len(FILINGS)


async def test_a_resubmitted_form_files_once(browser: Browser, desk: Desk) -> None:
    world = desk.world
    async with staff_page(browser, world, "madoguchi") as page:
        await open_person(page, desk.filer, "氏名変更届の受付", code="01")
        await open_form(page, "name_change")
        form = {
            name: await page.locator(f"form[action='/forms/submit'] input[name={name}]").get_attribute("value") or ""
            for name in ("csrf_token", "form_id", "atena_number", "idempotency_key", "reason_code", "reason_text")
        }
        first, second = [
            await page.request.post(f"{world.base_url}/forms/submit", form={**form, "note": "二度押し"})
            for _ in range(2)
        ]
        assert first.status == second.status == 200
        assert "既に受け付けています" in await second.text()
    conn = await world.platform.admin()
    try:
        kept = await conn.fetchval(
            "SELECT count(*) FROM counter.submission WHERE idempotency_key = $1", uuid.UUID(form["idempotency_key"])
        )
        sent = await conn.fetchval(
            "SELECT count(*) FROM counter.outbox WHERE convert_from(payload, 'UTF8') LIKE '%' || $1 || '%'",
            form["idempotency_key"],
        )
    finally:
        await conn.close()
    assert (kept, sent) == (1, 1)


async def test_applications_notifications_and_claims_show_their_screening_and_checks(
    browser: Browser, desk: Desk
) -> None:
    world = desk.world
    year = desk.fiscal_year
    expected_birth = datetime.now(JST).date() + timedelta(days=60)
    async with staff_page(browser, world, "madoguchi") as page:
        await open_person(page, desk.applicant, "免除申請の受付", code="01")
        exemption = await file_form(page, "exemption", {"first_month": f"{year}-07", "last_month": f"{year + 1}-06"})
        await file_form(page, "student_deferral", {"first_month": f"{year}-04", "last_month": f"{year + 1}-03"})
        await file_form(page, "pre_postnatal_exemption", {"expected_birth_on": expected_birth.isoformat()})
        await file_form(page, "claim_old_age_basic", {"attachments": ["bank_account", "family_register"]})
        await file_form(page, "claim_survivors_basic", {"attachments": ["bank_account"]})
        text = await refresh_until_answered(page, world, desk.applicant)
        assert "日本年金機構の決定: 未着" in await page.locator(f"#screening-{exemption}").inner_text()
        # JPS decides from the city's 進達 (処理結果一覧表 → eligibility → this topic): shown on that screening.
        decided = ExemptionDecided(
            event_id=uuid.uuid4(), effective_date=date(year, 9, 10), recorded_at=datetime.now(JST),
            application_id=uuid.UUID(exemption), atena_number=desk.applicant, kind=ExemptionApplicationKind.EXEMPTION,
            jps_decision=JpsDecision.APPROVED, tier=ExemptionTier.HALF_EXEMPTION, first_month=f"{year}-07",
            last_month=f"{year + 1}-06", decided_on=date(year, 9, 10), explanation="日本年金機構が半額免除を承認",
        )  # fmt: skip
        await world.platform.publish(EXEMPTION_DECIDED, [decided])
        await eventually(lambda: decision_kept(world, decided.application_id), timeout_s=60)
        await page.reload()
        jps = await page.locator(f"#jps-decision-{exemption}").inner_text()
        assert all(word in jps for word in ("承認", "半額免除", f"({year}-09-10)", "日本年金機構が半額免除を承認")), jps
        html = await page.content()
        await shot(page, world, "23-person-exemptions-and-claims")

    # 申請免除: screened per tier and person on the income year before the 年度, with limits and rules.
    screening = html[html.index('id="exemptions"') :]
    assert f"所得年 {year - 1}年" in screening
    for tier in ("全額免除", "4分の3免除", "半額免除", "4分の1免除"):
        assert tier in screening
    assert "本人" in screening
    assert "円" in screening  # the income used and the limit
    # 学特 names no school on this form: refused with its rule.
    student = page_row(text, "学生納付特例")
    assert "不受理" in student
    # 産前産後: the months recorded (88条の2), shown as an exemption period.
    assert "産前産後期間の免除届" in screening
    # Claims: received with what was checked, or refused with the rule.
    assert "老齢基礎年金" in text
    assert "遺族基礎年金" in text
    assert "根拠" in text


async def decision_kept(world: CounterWorld, application_id: uuid.UUID) -> bool:
    conn = await world.platform.admin()
    try:
        return bool(
            await conn.fetchval(
                "SELECT count(*) FROM counter.exemption_decision WHERE application_id = $1", application_id
            )
        )
    finally:
        await conn.close()


def page_row(text: str, label: str) -> str:
    return next(line for line in text.splitlines() if label in line)


async def test_a_correction_takes_a_second_staff_member_and_never_its_author(browser: Browser, desk: Desk) -> None:
    world = desk.world
    correction = {"corrects_period_acquired_on": INSURED_FROM.isoformat(), "acquired_on": "2024-04-03"}
    async with staff_page(browser, world, "shunin") as page:  # 窓口入力 and 確認者 both
        await open_person(page, desk.applicant, "記録の訂正", code="03")
        own = await file_form(page, "record_correction", correction)
    async with staff_page(browser, world, "madoguchi") as page:
        await open_person(page, desk.applicant, "記録の訂正", code="03")
        theirs = await file_form(page, "record_correction", {**correction, "acquired_on": "2024-04-05"})
        await refresh_until_answered(page, world, desk.applicant)
        assert "確認待ち" in await page.locator("#submissions").inner_text()

    async with staff_page(browser, world, "shunin") as page:
        await page.goto(f"{world.base_url}/corrections")
        mine = await page.locator(f"#pending-{own}").inner_text()
        assert "ご自身の入力" in mine
        await shot(page, world, "24-corrections-awaiting")
        # The list showed persons: one access-log row naming each of them, under the 確認者's duty (処理事由 03).
        listed = await page.locator("tr[id^=pending-]").evaluate_all(
            "rows => rows.map(r => [r.id.slice(8), r.cells[1].innerText.trim()])"
        )
        queue = (await log_rows(world, "shunin"))[-1]
        assert (queue["action"], queue["reason_code"], queue["result_count"]) == ("correction_queue", "03", len(listed))
        assert (queue["staff_name"], queue["department"], queue["terminal"]) == (
            "主任 六子",
            "国保年金課 国民年金係",
            "127.0.0.1",
        )
        logged = {p["宛名番号"]: p["受付番号"] for p in json.loads(queue["shown"])["persons"]}
        assert {atena for _, atena in listed} == set(logged)
        assert {own, theirs} <= set(logged[desk.applicant])
        csrf = await page.locator("input[name=csrf_token]").first.get_attribute("value") or ""
        # The server refuses, whatever the browser sends.
        for path in ("/corrections/open", "/corrections/confirm"):
            answer = await page.request.post(
                f"{world.base_url}{path}",
                form={"csrf_token": csrf, "submission_id": own, "idempotency_key": str(uuid.uuid4()),
                      "reason_code": "03", "reason_text": "自分の訂正"},
            )  # fmt: skip
            assert answer.status == 403
            assert "ご自身が入力した訂正は確認できません" in await answer.text()

    async with staff_page(browser, world, "kakunin") as page:  # 確認者 only
        await page.goto(f"{world.base_url}/corrections")
        async with page.expect_navigation():
            await page.locator(f"#pending-{theirs}").locator("button:has-text('内容を確認する')").click()
        assert "2024-04-05" in await page.content()
        opened = (await log_rows(world, "kakunin"))[-1]
        assert (opened["action"], opened["atena_number"], opened["reason_code"]) == ("view", desk.applicant, "03")
        await page.fill("#reason_text", "訂正内容の確認")
        async with page.expect_navigation() as nav:
            await page.click("button:has-text('確認して反映する')")
        assert (await nav.value).status == 200
        confirmation = (await page.locator("#submission-id").inner_text()).strip()

    async def confirmed() -> dict[str, Any] | None:
        rows = {str(r["submission_id"]): r for r in await answers(world, desk.applicant)}
        found = rows.get(confirmation)
        return found if found and found["answer"]["outcome"] == "accepted" else None

    done = await eventually(confirmed, timeout_s=120)
    assert done["kind"] == "confirmation"
    assert done["staff_id"] == "kakunin"
    assert done["payload"]["confirms_filing_id"] == theirs
    async with staff_page(browser, world, "kakunin") as page:
        await page.goto(f"{world.base_url}/corrections")
        assert await page.locator(f"#pending-{theirs}").count() == 0  # confirmed: off the list
        assert await page.locator(f"#pending-{own}").count() == 1
