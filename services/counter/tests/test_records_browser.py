"""What was sent about a person, the reception book and the disclosure export, on the real services and in a real
headless Chromium (the fixtures of test_browser.py). A monthly transfer batch (移転2) publishes one
``dispatch.transfer-recorded.v1`` per person, in the batch's transactions, and the person page lists it."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime

import pytest
from kokunen_contracts.eligibility import AcquisitionReason, InsuredCategory, QualificationChanged
from kokunen_contracts.eligibility import QualificationChangeKind as Kind
from kokunen_contracts.registry import PERSON_CHANGED, QUALIFICATION_CHANGED, TRANSFER_RECORDED
from kokunen_contracts.residency import PersonChangeKind
from kokunen_testing.factories import JST, person_changed
from kokunen_testing.platform import eventually, unique_atena
from playwright.async_api import Browser
from transfer_dispatch.app import build as build_dispatch
from transfer_dispatch.domain.policy import load_policies
from transfer_dispatch.handlers import run_monthly

from .conftest import CounterWorld
from .test_browser import browser, fill_reason, shot, signed_in

pytestmark = pytest.mark.integration
__all__ = ["browser"]  # the module-scoped Chromium of test_browser.py

MONTH = "2030-07"  # a month no other test batches: the batch is this test's alone


def pension_number() -> str:
    n = uuid.uuid4().int
    return f"{n % 9000 + 1000:04d}-{n // 10**4 % 10**6:06d}"


def acquired(atena: str, bpn: str) -> QualificationChanged:
    return QualificationChanged(
        event_id=uuid.uuid4(),
        effective_date=date(2026, 4, 1),
        recorded_at=datetime.now(JST),
        atena_number=atena,
        kind=Kind.ACQUIRED,
        period_id=uuid.uuid4(),
        category=InsuredCategory.CATEGORY_1,
        acquired_on=date(2026, 4, 1),
        acquisition_reason=AcquisitionReason.MOVED_IN_FROM_ABROAD,
        basic_pension_number=bpn,
    )


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
