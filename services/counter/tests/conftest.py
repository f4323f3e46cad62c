"""The counter on the real services: residency_sync, eligibility and tax_sync feed it over Kafka from upstream
events, a real OIDC provider process signs staff in, and the pages are served on a free port."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from counter.app import build
from counter.settings import CounterSettings
from kokunen_common.service import ServiceRuntime
from kokunen_contracts.registry import INCOME_ASSESSED, RESIDENT_CHANGED
from kokunen_contracts.residency import ChangeReason, PersonName, ProcessingSuspension
from kokunen_testing.factories import change, income_assessed, resident, valid_my_number
from kokunen_testing.infra import load_localstack, repo_root
from kokunen_testing.platform import Platform, eventually, unique_atena
from playwright.async_api import Browser, async_playwright

TOKENS_CSS = repo_root() / ".cache" / "design-tokens" / "1.1.9" / "package" / "dist" / "tokens.css"


@dataclass
class CounterWorld:
    platform: Platform
    runtime: ServiceRuntime
    settings: CounterSettings
    base_url: str
    oidc: Any
    citizen: str  # 宛名番号 of an ordinary insured person (qualification history, income, My Number)
    citizen_my_number: str
    suspended: str  # 宛名番号 of a person under 処理停止 (DV等支援措置)
    output: Path  # screenshots of this run

    async def person_rows(self, atena: str) -> int:
        conn = await self.platform.admin()
        try:
            return int(await conn.fetchval("SELECT count(*) FROM counter.person WHERE atena_number = $1", atena))
        finally:
            await conn.close()


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    localstack = load_localstack()
    provider = localstack.start_oidc(tmp_path_factory.mktemp("oidc"))
    try:
        yield provider
    finally:
        provider.stop()


def counter_settings(platform: Platform, issuer: str, port: int, **overrides: Any) -> CounterSettings:
    base = platform.settings("counter")
    values = {name: getattr(base, name) for name in type(base).model_fields}
    values.update(
        counter_http_port=port,
        counter_session_secret=base64.b64encode(os.urandom(32)).decode(),
        counter_design_tokens_css=TOKENS_CSS,
        oidc_issuer_url=issuer,
        oidc_client_id="kokunen-counter",
        **overrides,
    )
    return CounterSettings(**values)


@pytest.fixture(scope="session")
async def counter_world(platform: Platform, oidc_provider: Any) -> AsyncIterator[CounterWorld]:
    localstack = load_localstack()
    port = localstack.free_port()
    settings = counter_settings(platform, oidc_provider.issuer, port)
    citizen, suspended = unique_atena(), unique_atena()
    my_number = valid_my_number()
    upstream = [
        change(  # 国外転入 at 34: 国民年金法8条2号, a 第1号被保険者 from that day
            ChangeReason.MOVE_IN_FROM_ABROAD,
            resident(citizen, my_number=my_number, birth_date=date(1990, 4, 2),
                     name=PersonName(name="浦和 花子", kana="ウラワ ハナコ")),
            date(2025, 4, 1),
        ),
        change(
            ChangeReason.DOMESTIC_MOVE_IN,
            resident(
                suspended,
                birth_date=date(1992, 8, 20),
                name=PersonName(name="岩槻 桜", kana="イワツキ サクラ"),
                processing_suspension=ProcessingSuspension(suspended=True, reason="DV等支援措置"),
            ),
            date(2025, 5, 1),
        ),
    ]  # fmt: skip
    output = repo_root() / ".local" / "test-output" / "counter" / uuid.uuid4().hex[:8]
    output.mkdir(parents=True, exist_ok=True)
    feeders = [platform.build(s) for s in ("residency_sync", "eligibility", "tax_sync")]
    runtime = build(settings)
    for service in [*feeders, runtime]:
        await service.start()
    try:
        await platform.publish(RESIDENT_CHANGED, upstream)
        await platform.publish(INCOME_ASSESSED, [income_assessed(citizen, 2024)])
        world = CounterWorld(
            platform, runtime, settings, settings.public_url, oidc_provider, citizen, my_number, suspended, output
        )

        async def arrived() -> tuple[int, int, int] | None:
            conn = await platform.admin()
            try:
                counts = await conn.fetchrow(
                    """SELECT (SELECT count(*) FROM counter.person WHERE atena_number = ANY($1::text[])),
                              (SELECT count(*) FROM counter.qualification_event WHERE atena_number = $2),
                              (SELECT count(*) FROM counter.income WHERE atena_number = $2)""",
                    [citizen, suspended],
                    citizen,
                )
            finally:
                await conn.close()
            return None if counts[0] < 2 or not counts[1] or not counts[2] else tuple(counts)

        await eventually(arrived, timeout_s=120)
        # The feeders' work is done: left running, they would share their consumer groups (and the tax file
        # relay's leadership) with the other services' tests of this session.
        for service in feeders:
            await service.stop()
        feeders.clear()
        yield world
    finally:
        for service in [runtime, *feeders]:
            await service.stop()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, shared by the browser tests of the session."""
    from .browsing import ARGS, CHROMIUM

    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield chromium
        finally:
            await chromium.close()
