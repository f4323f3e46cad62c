"""What was sent about a person, the reception book and the disclosure export, on the real services and in a real
headless Chromium (the fixtures of test_browser.py). A monthly transfer batch (移転2) publishes one
``dispatch.transfer-recorded.v1`` per person, in the batch's transactions, and the person page lists it."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from datetime import date, datetime
from typing import Any

import jsonschema
import pytest
from counter.domain.disclosure import SCHEMA_PATH
from kokunen_contracts.counter import (
    BenefitClaimSubmitted,
    ExemptionApplicationSubmitted,
    FilingKind,
    FilingOutcome,
    FilingOutcomeKind,
    FilingRejection,
    FilingSubmitted,
)
from kokunen_contracts.eligibility import (
    AcquisitionReason,
    BenefitClaimKind,
    ExemptionApplicationKind,
    ExemptionDecided,
    ExemptionScreened,
    ExemptionTier,
    JpsDecision,
    PersonCheckOutcome,
    PersonScreening,
    QualificationChanged,
    ScreeningOutcome,
    ScreeningRole,
)
from kokunen_contracts.registry import (
    BENEFIT_CLAIM_SUBMITTED,
    EXEMPTION_APPLICATION_SUBMITTED,
    EXEMPTION_DECIDED,
    EXEMPTION_SCREENED,
    FILING_OUTCOME,
    FILING_SUBMITTED,
    PERSON_CHANGED,
    QUALIFICATION_CHANGED,
    TRANSFER_RECORDED,
)
from kokunen_contracts.residency import PersonChangeKind
from kokunen_contracts.transfer import DisclosureKind, TransferRecorded
from kokunen_testing.factories import JST, exemption_application, person_changed, qualification_acquired
from kokunen_testing.pdf import pdf_text
from kokunen_testing.platform import eventually, unique_atena
from playwright.async_api import Browser
from transfer_dispatch.app import build as build_dispatch
from transfer_dispatch.domain.policy import load_policies
from transfer_dispatch.handlers import run_monthly

from .browsing import fill_reason, log_rows, shot, signed_in
from .conftest import CounterWorld

pytestmark = pytest.mark.integration

MONTH = "2030-07"  # a month no other test batches: the batch is this test's alone


def pension_number() -> str:
    n = uuid.uuid4().int
    return f"{n % 9000 + 1000:04d}-{n // 10**4 % 10**6:06d}"


def acquired(atena: str, bpn: str) -> QualificationChanged:
    return qualification_acquired(atena, date(2026, 4, 1), AcquisitionReason.MOVED_IN_FROM_ABROAD, bpn)


async def test_a_monthly_batch_records_one_transfer_per_person_and_the_person_page_lists_it(
    browser: Browser, counter_world: CounterWorld
) -> None:
    world, platform = counter_world, counter_world.platform
    people = [unique_atena(), unique_atena()]
    await platform.publish(
        PERSON_CHANGED, [person_changed(a, PersonChangeKind.REGISTERED, date(2026, 4, 1)) for a in people]
    )
    changes = [acquired(a, pension_number()) for a in people]
    async with build_dispatch(platform.settings("transfer_dispatch")):
        await platform.publish(QUALIFICATION_CHANGED, changes)
        conn = await platform.connect_as("transfer_dispatch")
        try:

            async def kept() -> bool:
                count = await conn.fetchval(
                    "SELECT count(*) FROM dispatch.insured_person WHERE last_event_id = ANY($1::uuid[])",
                    [c.event_id for c in changes],
                )
                return bool(count == len(changes))

            await eventually(kept, timeout_s=90)
            result = await run_monthly(conn, load_policies(), "child_allowance", MONTH)
            assert result.batch_id == f"child_allowance-{MONTH}"
            rows = await conn.fetch(
                "SELECT message_key, payload FROM dispatch.outbox "
                "WHERE topic = $1 AND convert_from(payload, 'UTF8')::jsonb ->> 'batch_id' = $2",
                TRANSFER_RECORDED.name,
                result.batch_id,
            )
        finally:
            await conn.close()
        recorded = [json.loads(bytes(r["payload"])) for r in rows]
        # One per record of the batch, keyed by the person; ours exactly once each.
        assert len(recorded) == result.record_count
        assert sorted(r["atena_number"] for r in recorded if r["atena_number"] in people) == sorted(people)
        assert all(r["message_key"] == json.loads(bytes(r["payload"]))["atena_number"] for r in rows)
        ours = next(r for r in recorded if r["atena_number"] == people[0])
        assert ours["fields"] == ["basic_pension_number", "insured_category", "acquired_on", "lost_on"]
        assert ours["recipient"] == "子ども未来局 子育て支援課"
        assert changes[0].basic_pension_number not in json.dumps(recorded)  # names, never values

        async def listed() -> bool:
            conn = await platform.admin()
            try:
                n = await conn.fetchval(
                    "SELECT count(DISTINCT policy_id) FROM counter.transfer_record WHERE atena_number = $1", people[0]
                )
            finally:
                await conn.close()
            return bool(n == 2)  # 移転1 (随時, as the change was kept) and this month's 移転2

        await eventually(listed, timeout_s=90)

    context, page = await signed_in(browser, world, "madoguchi")
    try:
        await fill_reason(page, "提供・移転の記録の確認")
        await page.fill("#atena_number", people[0])
        await page.click("button:has-text('検索する')")
        await page.click("button:has-text('照会')")
        table = await page.locator("#transfer-records").inner_text()
        await shot(page, world, "20-person-transfer-records")
        assert "子ども未来局 子育て支援課" in table
        assert "市民局 区政推進部" in table
        assert f"child_allowance-{MONTH}" in table
        assert "基礎年金番号、被保険者種別、資格取得年月日、資格喪失年月日" in table
        assert changes[0].basic_pension_number not in table
    finally:
        await context.close()


COUNTER = "北区役所 保険年金課"  # madoguchi's 部署 (the demo IdP's claims)
WEEK_DAY = date(2030, 7, 2)  # in 2030-W27: no JPS week of any test, no batch of any other test


def filing(
    atena: str, kind: FilingKind, received_on: date, department: str = COUNTER, **fields: Any
) -> FilingSubmitted:
    return FilingSubmitted(
        event_id=uuid.uuid4(), effective_date=received_on, recorded_at=datetime.now(JST), filing_id=uuid.uuid4(),
        kind=kind, atena_number=atena, received_on=received_on, staff_id="madoguchi", department=department,
        **fields,
    )  # fmt: skip


def outcome(of: FilingSubmitted, result: FilingOutcomeKind, **fields: Any) -> FilingOutcome:
    return FilingOutcome(
        event_id=uuid.uuid4(), effective_date=of.received_on, recorded_at=datetime.now(JST), filing_id=of.filing_id,
        kind=of.kind, atena_number=of.atena_number, outcome=result, message="処理しました", **fields,
    )  # fmt: skip


def screened_application(
    atena: str,
    kind: ExemptionApplicationKind,
    tier: ExemptionTier,
    received_on: date,
    first_month: str,
    last_month: str,
    income_year: int,
    *,
    rule: str,
    article: str,
) -> tuple[ExemptionApplicationSubmitted, ExemptionScreened]:
    """An application received at this counter and eligibility's screening of it: the applicant passed ``tier``."""
    application = exemption_application(
        atena, received_on, first_month, last_month, kind=kind, staff_id="madoguchi", department=COUNTER
    )
    check = PersonScreening(
        tier=tier,
        role=ScreeningRole.APPLICANT,
        atena_number=atena,
        income_year=income_year,
        outcome=PersonCheckOutcome.PASSED,
        income_used=800_000,
        limit=1_880_000,
        rule=rule,
        article=article,
    )
    screened = ExemptionScreened(
        event_id=uuid.uuid4(),
        effective_date=received_on,
        recorded_at=datetime.now(JST),
        application_id=application.application_id,
        atena_number=atena,
        kind=kind,
        outcome=ScreeningOutcome.PASSED,
        decision=tier,
        first_month=first_month,
        last_month=last_month,
        income_year=income_year,
        checks=[check],
    )
    return application, screened  # fmt: skip


async def applied(world: CounterWorld, query: str, *args: Any, expected: int) -> None:
    async def done() -> bool:
        conn = await world.platform.admin()
        try:
            return bool(await conn.fetchval(query, *args) == expected)
        finally:
            await conn.close()

    await eventually(done, timeout_s=90)


async def test_the_reception_book_lists_a_counters_week_with_outcomes_and_jps_kinds_as_a_page_and_a_pdf(
    browser: Browser, counter_world: CounterWorld
) -> None:
    world = counter_world
    moved = filing(world.citizen, FilingKind.ADDRESS_CHANGE, date(2030, 7, 1))
    renamed = filing(world.suspended, FilingKind.NAME_CHANGE, date(2030, 7, 3))
    # Eligibility reads these topics too (in a later test of the session, and on replay, merged by timestamp): a
    # loss filed for the person who also applies for an exemption would decide that application differently
    # by arrival order. The loss is the other person's, on the same topic as her other filing (ordered).
    refused = filing(world.suspended, FilingKind.QUALIFICATION_LOSS, date(2030, 7, 3),
                     lost_on=date(2030, 7, 1), loss_reason="filed")  # fmt: skip
    elsewhere = filing(world.citizen, FilingKind.NAME_CHANGE, date(2030, 7, 2), department="南区役所 保険年金課")
    next_week = filing(world.citizen, FilingKind.NAME_CHANGE, date(2030, 7, 8))
    application, screened = screened_application(
        world.citizen, ExemptionApplicationKind.EXEMPTION, ExemptionTier.HALF_EXEMPTION, date(2030, 7, 2),
        "2030-07", "2031-06", 2029, rule="本人 所得 80万円 ≤ 基準 188万円", article="国民年金法90条の2第2項",
    )  # fmt: skip
    claim = BenefitClaimSubmitted(
        event_id=uuid.uuid4(), effective_date=date(2030, 7, 4), recorded_at=datetime.now(JST), claim_id=uuid.uuid4(),
        kind=BenefitClaimKind.OLD_AGE_BASIC, atena_number=world.citizen, received_on=date(2030, 7, 4),
        staff_id="madoguchi", department=COUNTER,
    )  # fmt: skip
    await world.platform.publish(FILING_SUBMITTED, [moved, renamed, refused, elsewhere, next_week])
    await world.platform.publish(EXEMPTION_APPLICATION_SUBMITTED, [application])
    await world.platform.publish(BENEFIT_CLAIM_SUBMITTED, [claim])
    await world.platform.publish(
        FILING_OUTCOME,
        [outcome(moved, FilingOutcomeKind.ACCEPTED), outcome(renamed, FilingOutcomeKind.ACCEPTED),
         outcome(refused, FilingOutcomeKind.REJECTED, rejection=FilingRejection.NO_OPEN_PERIOD,
                 rule="国民年金法9条")],
    )  # fmt: skip
    await world.platform.publish(EXEMPTION_SCREENED, [screened])
    mine = [moved.filing_id, renamed.filing_id, refused.filing_id, application.application_id, claim.claim_id]
    await applied(world, "SELECT count(*) FROM counter.reception WHERE receipt_id = ANY($1::uuid[])", mine, expected=5)
    await applied(
        world,
        """SELECT (SELECT count(*) FROM counter.filing_outcome WHERE filing_id = ANY($1::uuid[]))
                + (SELECT count(*) FROM counter.decision WHERE receipt_id = ANY($1::uuid[]))""",
        mine,
        expected=4,
    )

    context, page = await signed_in(browser, world, "madoguchi")
    try:
        await page.click("a:has-text('受付処理簿')")
        await fill_reason(page, "週次の進達前の確認")
        await page.fill("#day", WEEK_DAY.isoformat())
        await page.select_option("#span", "week")
        await page.click("button:has-text('表示する')")
        table = page.locator("#reception-book")
        await table.wait_for()
        await shot(page, world, "21-reception-book")
        rows = [await r.inner_text() for r in await table.locator("tbody tr").all()]
        assert len(rows) == 5, rows  # the other counter's and the next week's are not this book's
        assert all(word in rows[0] for word in ("住所変更届", "受理", "対象 (住所変更届)"))
        assert all(word in rows[1] for word in ("申請免除", "受理", "対象 (免除・納付猶予・学生納付特例申請)"))
        assert any(all(w in r for w in ("氏名変更届", "処理停止", "対象 (氏名変更届)")) for r in rows)
        assert any(all(w in r for w in ("資格喪失届", "不受理", "対象外")) for r in rows)
        assert all(word in rows[-1] for word in ("老齢基礎年金", "処理中", "未定"))
        html = await page.content()
        assert "進達対象 計: 3件" in html
        assert "受付 計: 5件" in html

        csrf = await page.locator("input[name=csrf_token]").first.get_attribute("value")
        answer = await page.request.post(
            f"{world.base_url}/records/reception-book",
            form={"csrf_token": csrf or "", "reason_code": "03", "reason_text": "週次の進達前の確認",
                  "department": COUNTER, "day": WEEK_DAY.isoformat(), "span": "week", "output": "pdf"},
        )  # fmt: skip
        assert answer.status == 200
        assert answer.headers["content-type"] == "application/pdf"
        text = pdf_text(await answer.body())
        (world.output / "21-reception-book.pdf").write_bytes(await answer.body())
        for expected in ("国民年金 受付処理簿", COUNTER, "令和12年7月1日", "令和12年7月7日", "住所変更届",
                         "浦和 花子", "平成2年4月2日", "(処理停止)", "進達対象 計", "老齢基礎年金"):  # fmt: skip
            assert expected in text, expected
        assert "岩槻" not in text  # a person under 処理停止 leaves on paper by 宛名番号 only
        logged = await log_rows(world, "madoguchi")
        books = [r for r in logged if r["action"] == "reception_book"]
        assert books[-1]["result_count"] == 5
        assert books[-1]["query"].endswith(" PDF")
        assert world.suspended in books[-1]["shown"]
    finally:
        await context.close()


def jps_decided(atena: str) -> ExemptionDecided:
    """日本年金機構 approved 半額免除 for 2026-07〜2027-06 on an application of the person (処理年月日 2026-09-10)."""
    return ExemptionDecided(
        event_id=uuid.uuid4(), effective_date=date(2026, 9, 10), recorded_at=datetime.now(JST),
        application_id=uuid.uuid4(), atena_number=atena, kind=ExemptionApplicationKind.EXEMPTION,
        jps_decision=JpsDecision.APPROVED, tier=ExemptionTier.HALF_EXEMPTION,
        screened_tier=ExemptionTier.HALF_EXEMPTION, first_month="2026-07", last_month="2027-06",
        decided_on=date(2026, 9, 10), explanation="日本年金機構が申請免除を承認（2026-09-10処理）: 半額免除",
    )  # fmt: skip


async def test_a_disclosure_export_is_one_logged_action_giving_a_japanese_pdf_and_a_json_valid_against_its_schema(
    browser: Browser, counter_world: CounterWorld
) -> None:
    world = counter_world
    sent = TransferRecorded(
        event_id=uuid.uuid4(), effective_date=date(2026, 12, 1), recorded_at=datetime.now(JST),
        atena_number=world.citizen, policy_id="nhi", kind=DisclosureKind.TRANSFER,
        recipient="福祉局 生活福祉部 国保年金課", purpose="国民健康保険の資格取得・喪失の確認",
        legal_basis="番号法9条2項", fields=["basic_pension_number", "atena_number", "insured_category"],
        batch_id="nhi-2026-11", channel="transfer.nhi-qualification-changes.v1", record_id=uuid.uuid4(),
    )  # fmt: skip
    await world.platform.publish(TRANSFER_RECORDED, [sent])
    # A filing of the person with eligibility's answer, and an application with its screening: both disclosed.
    reissue = filing(world.citizen, FilingKind.PENSION_NUMBER_NOTICE_REISSUE, date(2026, 11, 20))
    applied_for, screened = screened_application(
        world.citizen, ExemptionApplicationKind.PAYMENT_DEFERRAL, ExemptionTier.PAYMENT_DEFERRAL, date(2026, 11, 20),
        "2026-07", "2027-06", 2025, rule="500,000円 ≤ 基準額 670,000円", article="平成26年法律64号附則14条1項",
    )  # fmt: skip
    await world.platform.publish(FILING_SUBMITTED, [reissue])
    await world.platform.publish(FILING_OUTCOME, [outcome(reissue, FilingOutcomeKind.ACCEPTED)])
    await world.platform.publish(EXEMPTION_APPLICATION_SUBMITTED, [applied_for])
    await world.platform.publish(EXEMPTION_SCREENED, [screened])
    await applied(
        world,
        """SELECT (SELECT count(*) FROM counter.filing_outcome WHERE filing_id = $1)
                + (SELECT count(*) FROM counter.decision WHERE receipt_id = $2)""",
        reissue.filing_id,
        applied_for.application_id,
        expected=2,
    )
    # 日本年金機構's decisions (処理結果一覧表 → eligibility → counter): one for each person, the suspended one too.
    decided = {atena: jps_decided(atena) for atena in (world.citizen, world.suspended)}
    await world.platform.publish(EXEMPTION_DECIDED, list(decided.values()))
    await applied(world, "SELECT count(*) FROM counter.transfer_record WHERE event_id = $1", sent.event_id, expected=1)
    await applied(
        world,
        "SELECT count(*) FROM counter.exemption_decision WHERE event_id = ANY($1::uuid[])",
        [d.event_id for d in decided.values()],
        expected=2,
    )
    # Someone looked at the person first (a view by another 部署): the export lists it without the name.
    context, page = await signed_in(browser, world, "etsuran")
    try:
        await fill_reason(page, "本人からの電話照会")
        await page.fill("#atena_number", world.citizen)
        await page.click("button:has-text('検索する')")
        await page.click("button:has-text('照会')")
        await page.wait_for_selector("#transfers")
    finally:
        await context.close()

    schema = json.loads(SCHEMA_PATH.read_text())
    context, page = await signed_in(browser, world, "kansa")
    try:
        await page.click("a:has-text('開示請求')")
        await fill_reason(page, "開示請求 第2026-118号 (本人確認済み)")
        await page.fill("#atena_number", world.citizen)
        await shot(page, world, "22-disclosure-form")
        async with page.expect_download() as download_info:
            await page.click("button:has-text('PDF と JSON を出力する')")
        download = await download_info.value
        saved = world.output / "22-disclosure.zip"
        await download.save_as(saved)
        archive = zipfile.ZipFile(saved)
        names = sorted(archive.namelist())
        assert [n.rsplit(".", 1)[1] for n in names] == ["json", "pdf"]
        body = json.loads(archive.read(names[0]))
        pdf = archive.read(names[1])
        (world.output / "22-disclosure.pdf").write_bytes(pdf)
        jsonschema.validate(body, schema)
        assert body["person"]["name"] == "浦和 花子"
        assert body["person"]["my_number_registered"] is True
        assert body["qualification_periods"][0]["category"] == "第1号被保険者"
        assert [i["income_year"] for i in body["incomes"]] == [2024]
        # The tax system did not say how many dependants are 16〜18: disclosed as not given, not as a number.
        assert body["incomes"][0]["figures"]["general_dependants_aged_16_to_18"] is None
        [reissued] = [f for f in body["filings"] if f["receipt_id"] == str(reissue.filing_id)]
        assert (reissued["kind"], reissued["outcome"], reissued["received_on"]) == (
            "基礎年金番号通知書再交付申請",
            "受理",
            "2026-11-20",
        )
        [deferral] = [d for d in body["decisions"] if d["receipt_id"] == str(applied_for.application_id)]
        assert (deferral["decision"], deferral["months"], deferral["income_year"]) == (
            "納付猶予",
            "2026-07〜2027-06",
            2025,
        )
        assert deferral["grounds"] == ["500,000円 ≤ 基準額 670,000円 (平成26年法律64号附則14条1項)"]
        assert [(t["recipient"], t["batch_id"]) for t in body["transfers"]] == [
            ("福祉局 生活福祉部 国保年金課", "nhi-2026-11")
        ]
        assert body["transfers"][0]["fields"] == ["基礎年金番号", "宛名番号", "被保険者種別"]
        [jps] = body["jps_decisions"]
        assert (jps["receipt_id"], jps["decision"], jps["tier"], jps["months"], jps["decided_on"]) == (
            str(decided[world.citizen].application_id),
            "承認",
            "半額免除",
            "2026-07〜2027-06",
            "2026-09-10",
        )
        accesses = [(a["department"], a["action"]) for a in body["accesses"]]
        assert ("国保年金課 国民年金係", "照会") in accesses
        assert accesses[-1] == ("総務局 情報公開課", "開示請求の出力")  # the export lists its own making
        text = pdf_text(pdf)
        flat = json.dumps(body, ensure_ascii=False)
        for secret in (world.citizen_my_number, "閲覧 花子", "etsuran", "監査 四郎", "kansa", "127.0.0.1"):
            assert secret not in flat, secret
            assert secret not in text, secret
        for expected in ("保有個人情報の開示", "浦和 花子", "平成2年4月2日", "第1号被保険者", "国保年金課",
                         "提供・移転の記録", "記録を照会した記録", "本人からの電話照会",
                         "登録あり (番号は記載しません)", "日本年金機構の決定", "令和8年9月10日", "承認",
                         "半額免除", "届出と処理結果", "納付猶予"):  # fmt: skip
            assert expected in text, expected
        rows = await log_rows(world, "kansa")
        export = rows[-1]
        assert (export["action"], export["atena_number"], export["reason_text"]) == (
            "disclosure_export",
            world.citizen,
            "開示請求 第2026-118号 (本人確認済み)",
        )

        # A person under 処理停止: the export is made, the address is not in it.
        csrf = await page.locator("input[name=csrf_token]").first.get_attribute("value")
        answer = await page.request.post(
            f"{world.base_url}/records/disclosure",
            form={"csrf_token": csrf or "", "reason_code": "02", "reason_text": "開示請求 第2026-119号",
                  "atena_number": world.suspended},
        )  # fmt: skip
        assert answer.status == 200
        archive = zipfile.ZipFile(io.BytesIO(await answer.body()))
        names = sorted(archive.namelist())
        body = json.loads(archive.read(names[0]))
        jsonschema.validate(body, schema)
        text = pdf_text(archive.read(names[1]))
        assert body["person"]["address"] is None
        assert [j["receipt_id"] for j in body["jps_decisions"]] == [str(decided[world.suspended].application_id)]
        assert "さいたま市" not in json.dumps(body, ensure_ascii=False)
        assert "さいたま市" not in text
        assert "処理停止" in text

        unknown = await page.request.post(
            f"{world.base_url}/records/disclosure",
            form={"csrf_token": csrf or "", "reason_code": "02", "reason_text": "開示請求",
                  "atena_number": "999999999999999"},
        )  # fmt: skip
        assert unknown.status == 404
        assert (await log_rows(world, "kansa"))[-1]["result_count"] == 0
    finally:
        await context.close()

    context, page = await signed_in(browser, world, "madoguchi")  # a clerk is not the designated role
    try:
        refused = await page.goto(f"{world.base_url}/records/disclosure")
        assert refused is not None
        assert refused.status == 403
    finally:
        await context.close()
