"""サインインの試行制限 on the real services: failed sign-ins of one staff member (through the provider's page, in
Chromium) and from one terminal (the web application reached as from another client address) are refused with
HTTP 429 and a Japanese message once they reach their limit; the change of state is recorded once, refused
attempts are not; failures older than the window no longer count."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from counter.adapters.repository import SignInFailures
from counter.adapters.web import create_app
from counter.domain.sign_in_limits import LimitedBy, SignInLimits, SignInRefusedForNow
from playwright.async_api import Browser, Page

from .browsing import shot
from .conftest import CounterWorld, counter_settings

pytestmark = pytest.mark.integration


async def failure_rows(world: CounterWorld, column: str, key: str) -> list[tuple[str, str | None]]:
    conn = await world.platform.admin()
    try:
        rows = await conn.fetch(
            f"SELECT problem, limited_by FROM counter.sign_in_failure WHERE {column} = $1 ORDER BY id", key
        )
        return [(r["problem"], r["limited_by"]) for r in rows]
    finally:
        await conn.close()


async def sign_in_as(page: Page, world: CounterWorld, staff_id: str, roles: list[str]) -> int:
    """Through the provider's sign-in page with the claims a misconfigured or hostile client might present (a
    staff id the IdP names, with or without roles); the status the counter answers the IdP's redirect with."""
    await page.goto(f"{world.base_url}/login")
    await page.wait_for_selector("#user-etsuran")
    await page.evaluate(
        """([staffId, roles]) => {
            const form = document.querySelector('#user-etsuran').form;
            form.querySelector('input[name=username]').value = staffId;
            const claims = form.querySelector('input[name=claims]');
            claims.value = JSON.stringify({...JSON.parse(claims.value), roles});
        }""",
        [staff_id, roles],
    )
    async with page.expect_navigation(url=re.compile(re.escape(world.base_url))) as nav:
        await page.click("#user-etsuran")
    answer = await nav.value
    assert answer is not None
    return answer.status


async def test_a_staff_members_failed_sign_ins_are_limited_from_every_terminal(
    browser: Browser, counter_world: CounterWorld
) -> None:
    world = counter_world
    limit = world.settings.counter_sign_in_failures_per_staff
    staff_id = f"brute-{uuid.uuid4().hex[:8]}"  # the IdP names them; the counter gives them no role
    context = await browser.new_context(locale="ja-JP")
    try:
        page = await context.new_page()
        assert [await sign_in_as(page, world, staff_id, []) for _ in range(limit)] == [403] * limit
        rows = await failure_rows(world, "staff_id", staff_id)
        assert [by for _, by in rows] == [None] * limit + ["staff"]  # the change of state, recorded once
        assert f"上限の{limit}回に達しました" in rows[-1][0]
        # Over the limit: refused before anything else, even with a role, and nothing more is written.
        assert await sign_in_as(page, world, staff_id, ["viewer"]) == 429
        assert "サインインを一時的に受け付けていません" in await page.content()
        assert f"この職員のサインインの失敗が15分間に上限の{limit}回に達したため" in await page.content()
        await shot(page, world, "12-sign-in-limited")
        assert await sign_in_as(page, world, staff_id, []) == 429
        assert len(await failure_rows(world, "staff_id", staff_id)) == limit + 1
    finally:
        await context.close()


@pytest.fixture
async def from_terminal(counter_world: CounterWorld) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """The counter's web application reached from a client address of its own (the served one sees every test
    from 127.0.0.1), with a limit of 3 failures per terminal: configured like any deployment."""
    world = counter_world
    settings = counter_settings(
        world.platform,
        world.oidc.issuer,
        world.settings.counter_http_port,
        counter_cookie_secure=False,  # plain http between the test client and the application
        counter_sign_in_failures_per_terminal=3,
    )
    app = create_app(settings, lambda: world.runtime.pool, lambda: None)
    address = f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"  # a documentation address, this test's
    transport = httpx.ASGITransport(app=app, client=(address, 50123))
    async with httpx.AsyncClient(transport=transport, base_url=world.base_url) as client:
        yield client, address


async def test_a_terminals_failed_sign_ins_are_limited_and_a_quiet_window_opens_it_again(
    counter_world: CounterWorld, from_terminal: tuple[httpx.AsyncClient, str]
) -> None:
    world = counter_world
    client, terminal = from_terminal
    forged = "/auth/callback?code=forged&state=forged"
    assert [(await client.get(forged)).status_code for _ in range(3)] == [400, 400, 400]
    rows = await failure_rows(world, "terminal", terminal)
    assert [by for _, by in rows] == [None, None, None, "terminal"]
    for path in (forged, "/login"):  # the IdP is not even asked
        refused = await client.get(path)
        assert refused.status_code == 429
        assert "この端末のサインインの失敗が15分間に上限の3回に達したため" in refused.text
        assert 0 < int(refused.headers["retry-after"]) <= 15 * 60
    assert len(await failure_rows(world, "terminal", terminal)) == 4

    # Another terminal is not affected; failures older than the window do not count.
    other = terminal.replace("2001:db8::", "2001:db8:1::")
    limits = SignInLimits(window=timedelta(minutes=15), per_terminal=3, per_staff=5)
    async with world.runtime.pool.acquire() as conn:
        failures = SignInFailures(conn)
        for minutes in (16, 17, 18):
            await failures.record(other, None, "試験: 古い失敗", at=datetime.now(UTC) - timedelta(minutes=minutes))
        assert await failures.refusal(limits, other) is None
        assert isinstance(await failures.refusal(limits, terminal), SignInRefusedForNow)


def test_a_limit_is_reached_once_and_says_until_when_in_japan_time() -> None:
    limits = SignInLimits(window=timedelta(minutes=15), per_terminal=20, per_staff=5)
    assert [limits.just_reached(LimitedBy.STAFF, n) for n in (4, 5, 6)] == [False, True, False]
    assert [limits.reached(LimitedBy.STAFF, n) for n in (4, 5, 6)] == [False, True, True]
    assert not limits.reached(LimitedBy.TERMINAL, 19)
    refused = SignInRefusedForNow(LimitedBy.TERMINAL, 20, datetime(2026, 12, 5, 1, 30, tzinfo=UTC))
    assert refused.message(limits).startswith("この端末のサインインの失敗が15分間に上限の20回に達したため")
    assert "10:30 以降にやり直してください" in refused.message(limits)
