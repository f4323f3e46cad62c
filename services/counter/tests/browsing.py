"""Steps of the browser tests: a staff member signed in through the provider's page, a person looked up with a
処理事由, screenshots, and the access-log rows a step wrote."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page

from .conftest import CounterWorld

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


async def signed_in(
    browser: Browser, world: CounterWorld, username: str, *, lands_home: bool = True
) -> tuple[BrowserContext, Page]:
    """Through the provider's sign-in page, as a human would: the counter redirects, the staff member chooses."""
    context = await browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await page.goto(f"{world.base_url}/login")
    async with page.expect_navigation(url=re.compile(re.escape(world.base_url))):
        await page.click(f"#user-{username}")
    if lands_home:
        await page.wait_for_url(f"{world.base_url}/")
    return context, page


@contextlib.asynccontextmanager
async def staff_page(
    browser: Browser, world: CounterWorld, username: str, *, lands_home: bool = True
) -> AsyncIterator[Page]:
    """``signed_in`` for the length of a block: the browser context closes afterwards."""
    context, page = await signed_in(browser, world, username, lands_home=lands_home)
    try:
        yield page
    finally:
        await context.close()


async def shot(page: Page, world: CounterWorld, name: str) -> None:
    await page.screenshot(path=str(world.output / f"{name}.png"), full_page=True)


async def log_rows(world: CounterWorld, staff_id: str, after: int = 0) -> list[dict[str, Any]]:
    conn = await world.platform.admin()
    try:
        rows = await conn.fetch(
            "SELECT * FROM counter.access_log WHERE staff_id = $1 AND seq > $2 ORDER BY seq", staff_id, after
        )
        return [dict(r) for r in rows]
    finally:
        await conn.close()


async def last_seq(world: CounterWorld) -> int:
    conn = await world.platform.admin()
    try:
        return int(await conn.fetchval("SELECT coalesce(max(seq), 0) FROM counter.access_log"))
    finally:
        await conn.close()


async def fill_reason(page: Page, text: str, prefix: str = "", code: str = "02") -> None:
    await page.select_option(f"#{prefix}reason_code", code)
    await page.fill(f"#{prefix}reason_text", text)


async def search_by_atena(page: Page, atena: str, reason: str, code: str = "02") -> None:
    """From the home page: a search by 宛名番号 with a 処理事由, waiting for its one result."""
    await fill_reason(page, reason, code=code)
    await page.fill("#atena_number", atena)
    await page.click("button:has-text('検索する')")
    await page.wait_for_selector("text=1件見つかりました")


async def open_person(page: Page, atena: str, reason: str, code: str = "02") -> None:
    """From the home page to the person's page (search, then 照会)."""
    await search_by_atena(page, atena, reason, code)
    async with page.expect_navigation():
        await page.click("button:has-text('照会')")
