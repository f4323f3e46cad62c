"""The staff's pages in a real headless Chromium (Debian's, driven by Playwright) on the real services, Kafka,
PostgreSQL and OIDC provider. Screenshots of each page go to .local/test-output/counter/<run>/."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta

import pytest
from playwright.async_api import Browser

from .browsing import fill_reason, last_seq, log_rows, open_person, search_by_atena, shot, staff_page
from .conftest import CounterWorld

pytestmark = pytest.mark.integration


async def sign_in_failures(world: CounterWorld) -> int:
    conn = await world.platform.admin()
    try:
        return int(await conn.fetchval("SELECT count(*) FROM counter.sign_in_failure WHERE terminal = '127.0.0.1'"))
    finally:
        await conn.close()


async def test_a_viewer_searches_with_a_reason_views_once_and_never_receives_a_my_number(
    browser: Browser, counter_world: CounterWorld
) -> None:
    world = counter_world
    start = await last_seq(world)
    async with staff_page(browser, world, "etsuran") as page:
        await shot(page, world, "01-home")
        assert "閲覧 花子" in await page.content()

        # No 処理事由: the server refuses (the form has no client-side check to lean on).
        await page.fill("#atena_number", world.citizen)
        async with page.expect_navigation() as nav:
            await page.click("button:has-text('検索する')")
        assert (await nav.value).status == 400
        assert "処理事由を選択してください" in await page.locator("#reason_code-error").inner_text()
        await shot(page, world, "02-search-without-reason")
        assert await log_rows(world, "etsuran", start) == []

        await search_by_atena(page, world.citizen, "本人来庁 (年金手帳の再交付相談)")
        await shot(page, world, "03-results")
        rows = await log_rows(world, "etsuran", start)
        assert [r["action"] for r in rows] == ["search"]
        assert rows[0]["result_count"] == 1
        assert rows[0]["query"] == f"宛名番号={world.citizen}"

        async with page.expect_navigation() as nav:
            await page.click("button:has-text('照会')")
        assert (await nav.value).status == 200
        html = await page.content()
        await shot(page, world, "04-person-viewer")
        assert "浦和 花子" in html
        assert "第1号被保険者" in html
        assert "平成2年4月2日 (1990-04-02)" in html
        assert "一般 1 (うち16〜18歳 不明)・老人 0・特定 0・年少 1" in html  # the tax record did not give it
        assert "●●●● ●●●● ●●●●" in html
        assert world.citizen_my_number not in html  # not even hidden
        assert "個人番号を表示する" not in html  # a viewer is not offered the reveal
        rows = await log_rows(world, "etsuran", start)
        assert [r["action"] for r in rows] == ["search", "view"]  # exactly one row for the view
        view = rows[1]
        assert view["atena_number"] == world.citizen
        assert view["department"] == "国保年金課 国民年金係"
        assert view["staff_name"] == "閲覧 花子"
        assert view["terminal"] == "127.0.0.1"
        assert (view["reason_code"], view["reason_text"]) == ("02", "本人来庁 (年金手帳の再交付相談)")
        assert view["my_number_shown"] is False
        assert view["logged_at"] is not None
        assert '"氏名": "浦和 花子"' in view["shown"]
        assert "さいたま市" in view["shown"]

        # The reveal is refused to a viewer by the server, whatever the browser sends.
        csrf = await page.locator("input[name=csrf_token]").first.get_attribute("value")
        answer = await page.request.post(
            f"{world.base_url}/person/my-number",
            form={"csrf_token": csrf or "", "atena_number": world.citizen, "reveal_reason_code": "06",
                  "reveal_reason_text": "試行"},
        )  # fmt: skip
        assert answer.status == 403
        assert "権限がありません" in await answer.text()
        assert world.citizen_my_number not in await answer.text()


async def test_a_my_number_handler_reveals_it_with_its_own_reason_and_the_reveal_is_logged(
    browser: Browser, counter_world: CounterWorld
) -> None:
    world = counter_world
    start = await last_seq(world)
    async with staff_page(browser, world, "bango") as page:
        await open_person(page, world.citizen, "資格取得届の受付")
        assert world.citizen_my_number not in await page.content()
        await page.click("summary:has-text('個人番号を表示する')")
        await page.select_option("#reveal_reason_code", "06")
        await page.fill("#reveal_reason_text", "資格取得届の個人番号の確認")
        await page.click("button:has-text('個人番号を表示する')")
        shown = await page.locator("#my-number").inner_text()
        await shot(page, world, "05-person-my-number-revealed")
        assert shown.replace(" ", "") == world.citizen_my_number
        rows = await log_rows(world, "bango", start)
        assert [r["action"] for r in rows] == ["search", "view", "reveal_my_number"]
        assert [r["my_number_shown"] for r in rows] == [False, False, True]
        assert rows[2]["reason_text"] == "資格取得届の個人番号の確認"
        assert world.citizen_my_number not in str(rows)  # the log says it was shown, never what


async def test_the_address_of_a_person_under_processing_suspension_is_withheld_and_not_exported(
    browser: Browser, counter_world: CounterWorld
) -> None:
    world = counter_world
    async with staff_page(browser, world, "madoguchi") as page:
        await fill_reason(page, "電話での照会")
        await page.fill("#kana_name", "いわつき さくら")  # ひらがな and a space: normalised to the key
        await page.fill("#birth_date", "平成4年8月20日")
        await page.click("button:has-text('検索する')")
        await page.wait_for_selector("text=件見つかりました")
        await page.locator("tr", has_text=world.suspended).locator("button:has-text('照会')").click()
        html = await page.content()
        await shot(page, world, "06-person-suspended")
        assert "処理停止 (DV等支援措置) の対象者です" in html
        assert "処理停止中のため表示しません" in html
        assert "さいたま市" not in html

    async with staff_page(browser, world, "kansa") as page:
        await page.goto(f"{world.base_url}/audit?atena_number={world.suspended}")
        await shot(page, world, "07-audit")
        assert "電話での照会" in await page.content()
        answer = await page.request.get(f"{world.base_url}/audit/export.csv?atena_number={world.suspended}")
        text = await answer.text()
        assert answer.status == 200
        assert "処理停止" in text
        assert "岩槻" not in text
        assert "さいたま市" not in text
        assert re.search(r"窓口 一郎.*北区役所 保険年金課", text)
        # The auditor's reads are accesses to the person too: one row each, naming the person searched for.
        reads = await log_rows(world, "kansa")
        assert [r["action"] for r in reads][-2:] == ["audit_search", "audit_export"]
        assert all(r["atena_number"] == world.suspended and r["reason_code"] == "90" for r in reads[-2:])
        assert f'"宛名番号": "{world.suspended}"' in reads[-1]["shown"]
        assert "岩槻" not in reads[-1]["shown"]  # by 宛名番号 only


async def test_bad_input_gets_a_japanese_message_and_the_right_status(
    browser: Browser, counter_world: CounterWorld
) -> None:
    world = counter_world
    anonymous = await browser.new_context(locale="ja-JP")
    try:
        page = await anonymous.new_page()
        response = await page.goto(f"{world.base_url}/")
        assert response is not None
        assert response.status == 401
        assert "サインインしてください" in await page.content()
        assert response.headers["cache-control"] == "no-store"
        assert "script-src 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-frame-options"] == "DENY"
        await anonymous.add_cookies([{"name": "counter_session", "value": "forged.cookie.value",
                                      "url": world.base_url}])  # fmt: skip
        response = await page.goto(f"{world.base_url}/")
        assert response is not None
        assert response.status == 401
        failures = await sign_in_failures(world)
        response = await page.goto(f"{world.base_url}/auth/callback?code=forged&state=forged")
        assert response is not None
        assert response.status == 400
        assert await sign_in_failures(world) == failures + 1  # for the auditors' monthly review
        assert "サインインできませんでした" in await page.content()
        await shot(page, world, "08-forged-callback")
    finally:
        await anonymous.close()

    async with staff_page(browser, world, "mukengen", lands_home=False) as page:  # no role: refused at sign-in
        assert "権限がありません" in await page.content()
    start = await last_seq(world)
    async with staff_page(browser, world, "etsuran") as page:
        before = len(await log_rows(world, "etsuran", start))
        csrf = await page.locator("input[name=csrf_token]").first.get_attribute("value")
        # Over-long input (the page's maxlength is a convenience; the server decides).
        too_long = await page.request.post(
            f"{world.base_url}/search",
            form={"csrf_token": csrf or "", "reason_code": "03", "reason_text": "確認", "atena_number": "1" * 80},
        )
        assert too_long.status == 400
        assert "入力が長すぎます" in await too_long.text()
        await fill_reason(page, "確認")
        await page.fill("#basic_pension_number", "abc-')--")  # malformed
        async with page.expect_navigation() as nav:
            await page.click("button:has-text('検索する')")
        assert (await nav.value).status == 400
        assert "基礎年金番号は" in await page.content()
        await shot(page, world, "09-malformed-query")
        assert len(await log_rows(world, "etsuran", start)) == before  # refused input looked nothing up

        unknown = await page.request.post(
            f"{world.base_url}/person",
            form={
                "csrf_token": csrf or "",
                "atena_number": "999999999999999",
                "reason_code": "03",
                "reason_text": "確認",
            },
        )
        assert unknown.status == 404
        assert "該当する方が見つかりません" in await unknown.text()
        rows = await log_rows(world, "etsuran", start)
        assert len(rows) == before + 1
        assert rows[-1]["result_count"] == 0
        no_reason = await page.request.post(
            f"{world.base_url}/person", form={"csrf_token": csrf or "", "atena_number": world.citizen}
        )
        assert no_reason.status == 400
        assert "処理事由" in await no_reason.text()
        forged = await page.request.post(
            f"{world.base_url}/person",
            form={"csrf_token": "forged", "atena_number": world.citizen, "reason_code": "03", "reason_text": "確認"},
        )
        assert forged.status == 403
        audit = await page.request.get(f"{world.base_url}/audit")
        assert audit.status == 403
        assert "権限がありません" in await audit.text()
        for answer in (unknown, no_reason, forged, audit):
            assert "Traceback" not in await answer.text()

        # Idle too long: the session ends on the server and the staff member signs in again.
        admin = await world.platform.admin()
        try:
            await admin.execute(
                "UPDATE counter.staff_session SET last_seen_at = now() - interval '1 day' "
                "WHERE staff_id = 'etsuran' AND ended_at IS NULL"
            )
        finally:
            await admin.close()
        response = await page.goto(f"{world.base_url}/")
        assert response is not None
        assert response.status == 401
        assert "一定時間操作がなかったため" in await page.content()


async def test_logout_ends_the_session_at_the_counter_and_the_provider(
    browser: Browser, counter_world: CounterWorld
) -> None:
    world = counter_world
    async with staff_page(browser, world, "kakunin") as page:
        await page.click("button:has-text('サインアウト')")
        await page.wait_for_url(f"{world.base_url}/signed-out")
        await shot(page, world, "10-signed-out")
        response = await page.goto(f"{world.base_url}/")
        assert response is not None
        assert response.status == 401


async def test_an_expired_id_token_signs_no_one_in_and_an_idle_session_ends(
    browser: Browser, counter_world: CounterWorld
) -> None:
    """The provider issues an ID token that expired an hour ago (its claims set by the sign-in form): the counter
    refuses it, records the failure, and no session starts. A session used just before the idle timeout goes on
    (and counts from then); one left idle past it ends on the server."""
    world = counter_world
    context = await browser.new_context(locale="ja-JP")
    try:
        page = await context.new_page()
        await page.goto(f"{world.base_url}/login")
        await page.wait_for_selector("#user-etsuran")
        past = int(time.time()) - 3600
        await page.evaluate(
            """past => {
                const claims = document.querySelector('#user-etsuran').form.querySelector('input[name=claims]');
                const expired = {exp: past, iat: past - 600, nbf: past - 600};
                claims.value = JSON.stringify({...JSON.parse(claims.value), ...expired});
            }""",
            past,
        )
        failures = await sign_in_failures(world)
        async with page.expect_navigation(url=re.compile(re.escape(world.base_url))) as nav:
            await page.click("#user-etsuran")
        answer = await nav.value
        assert answer is not None
        assert answer.status == 400
        assert "サインインできませんでした" in await page.content()
        await shot(page, world, "11-expired-token")
        assert await sign_in_failures(world) == failures + 1
        home = await page.goto(f"{world.base_url}/")
        assert home is not None
        assert home.status == 401  # no session came of it
    finally:
        await context.close()

    async with staff_page(browser, world, "madoguchi") as page:

        async def last_used(ago: timedelta | None = None) -> datetime:
            admin = await world.platform.admin()
            try:
                if ago:
                    await admin.execute(
                        "UPDATE counter.staff_session SET last_seen_at = now() - $1::interval "
                        "WHERE staff_id = 'madoguchi' AND ended_at IS NULL",
                        ago,
                    )
                return await admin.fetchval(  # type: ignore[no-any-return]
                    "SELECT max(last_seen_at) FROM counter.staff_session WHERE staff_id = 'madoguchi'"
                )
            finally:
                await admin.close()

        # Used a minute before the idle timeout (15 minutes): still signed in, and the use counts from now.
        before = await last_used(timedelta(minutes=14))
        response = await page.goto(f"{world.base_url}/")
        assert response is not None
        assert response.status == 200
        assert await last_used() > before + timedelta(minutes=13)
        # A page seconds after the last: its last-seen is not written again (a tenth of the timeout not passed).
        recent = await last_used(timedelta(seconds=30))
        response = await page.goto(f"{world.base_url}/")
        assert response is not None
        assert response.status == 200
        assert await last_used() == recent
        # Past the timeout: the server ends it.
        await last_used(timedelta(minutes=16))
        response = await page.goto(f"{world.base_url}/")
        assert response is not None
        assert response.status == 401
        assert "一定時間操作がなかったため" in await page.content()
        await shot(page, world, "12-idle-timeout")
