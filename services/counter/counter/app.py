"""Wiring of the counter (窓口): the read model's subscriptions, the staff's web pages as a background job of the
service runtime, migrations and the command line (``counter run``, ``counter verify-access-log``)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import asyncpg
import typer
import uvicorn
from kokunen_common.hash_chain import ChainBreak, verify_lanes
from kokunen_common.logs import get_logger
from kokunen_common.service import ServiceDefinition, ServiceRuntime, service_cli
from kokunen_common.settings import ServiceSettings
from kokunen_contracts.registry import (
    ADDITIONAL_PREMIUM_CHANGED,
    BENEFIT_CLAIM_RECEIVED,
    BENEFIT_CLAIM_SUBMITTED,
    EXEMPTION_APPLICATION_SUBMITTED,
    EXEMPTION_DECIDED,
    EXEMPTION_NOTIFICATION_OUTCOME,
    EXEMPTION_NOTIFICATION_SUBMITTED,
    EXEMPTION_SCREENED,
    FILING_OUTCOME,
    FILING_SUBMITTED,
    INCOME_DETERMINED,
    PERSON_CHANGED,
    QUALIFICATION_CHANGED,
    TRANSFER_RECORDED,
)

from . import page_workers
from .adapters.log_report import report_command
from .adapters.repository import AccessLog
from .adapters.web import create_app
from .domain.access_log import LANES, LOG_FIELDS
from .domain.disclosure import SCHEMA_PATH, schema_text
from .handlers import (
    on_additional_premium_changed,
    on_answered,
    on_exemption_decided,
    on_filing_outcome,
    on_income_determined,
    on_person_changed,
    on_qualification_changed,
    on_submitted,
    on_transfer_recorded,
)
from .settings import CounterAuditSettings, CounterPageSettings, CounterSettings

log = get_logger(__name__)
SERVICE = "counter"
SCHEMA = "counter"
MIGRATIONS = Path(__file__).parent / "migrations"
EXTRA_SETTINGS = (
    CounterPageSettings,
    CounterAuditSettings,
)  # in docs/configuration.md beside the settings every service reads


class _Server(uvicorn.Server):
    """uvicorn inside the service runtime: the runtime (FastStream) owns the process's signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def web_pages(runtime: ServiceRuntime, stop: asyncio.Event) -> None:
    """Serve the staff's pages until the service stops (requests use the runtime's pool and vault)."""
    settings = runtime.settings
    assert isinstance(settings, CounterSettings)
    if not settings.counter_http_port:  # a free port, so that the IdP's redirect names the one we listen on
        with socket.socket() as probe:
            probe.bind((settings.counter_http_host, 0))
            object.__setattr__(settings, "counter_http_port", probe.getsockname()[1])
    if settings.counter_web_workers > 1:
        await page_workers.supervise(settings, stop)
        return
    app = create_app(settings, lambda: runtime.pool, lambda: runtime.vault)
    log.info("counter pages", url=settings.public_url)
    server = _Server(page_workers.server_config(app, settings))
    serving = asyncio.create_task(server.serve())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    stopping.cancel()
    await serving


def counter_settings(settings: ServiceSettings | None) -> CounterSettings:
    if settings is None or isinstance(settings, CounterSettings):
        return settings or CounterSettings()
    return CounterSettings(**{name: getattr(settings, name) for name in type(settings).model_fields})


def build(settings: ServiceSettings | None = None) -> ServiceRuntime:
    definition = ServiceDefinition(
        name=SERVICE,
        schema=SCHEMA,
        migrations_dir=MIGRATIONS,
        # No topic the counter reads holds who looked at whom, who is signed in (or failed to), or what staff
        # submitted (the counter publishes its submissions; it does not consume them): a replay keeps them.
        kept_on_replay=("access_log", "staff_session", "sign_in_failure", "submission"),
        background_jobs=[web_pages],
        needs_vault=True,  # a 個人番号取扱者's reveal opens the sealed number
    )
    runtime = ServiceRuntime(definition, counter_settings(settings))
    runtime.consumer.subscribe(PERSON_CHANGED, on_person_changed)
    runtime.consumer.subscribe(QUALIFICATION_CHANGED, on_qualification_changed)
    runtime.consumer.subscribe(INCOME_DETERMINED, on_income_determined)
    runtime.consumer.subscribe(FILING_OUTCOME, on_filing_outcome)
    runtime.consumer.subscribe(ADDITIONAL_PREMIUM_CHANGED, on_additional_premium_changed)
    runtime.consumer.subscribe(TRANSFER_RECORDED, on_transfer_recorded)
    runtime.consumer.subscribe(EXEMPTION_DECIDED, on_exemption_decided)
    # The 受付処理簿: the counters' own submissions (受付日, 部署) and eligibility's answers to them.
    for submitted in (FILING_SUBMITTED, EXEMPTION_APPLICATION_SUBMITTED, EXEMPTION_NOTIFICATION_SUBMITTED,
                      BENEFIT_CLAIM_SUBMITTED):  # fmt: skip
        runtime.consumer.subscribe(submitted, on_submitted)
    for answered in (EXEMPTION_SCREENED, EXEMPTION_NOTIFICATION_OUTCOME, BENEFIT_CLAIM_RECEIVED):
        runtime.consumer.subscribe(answered, on_answered)
    return runtime


cli = service_cli(
    "counter — 窓口: staff pages (sign-in, 照会 with a 処理事由, アクセスログ)",
    build,
    run_help="Serve the staff's pages and keep the inquiry read model from the events until stopped.",
)


async def verify_access_log(conn: asyncpg.Connection) -> tuple[int, list[ChainBreak]]:
    """Check the access log's hash chains (every lane) in one consistent snapshot."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        entries = await AccessLog(conn).entries()
    return len(entries), verify_lanes(entries, LOG_FIELDS, LANES)


@cli.command("pages", hidden=True)
def pages_command() -> None:
    """One page worker (``counter run`` starts COUNTER_WEB_WORKERS of them): the staff's pages only."""
    page_workers.run_page_worker(build())


@cli.command("verify-access-log")
def verify_access_log_command() -> None:
    """Check the hash chain of the access log (アクセスログ); exit 1 naming the first broken row."""
    settings = CounterSettings()

    async def go() -> tuple[int, list[ChainBreak]]:
        conn = await asyncpg.connect(settings.database_url.get_secret_value())
        try:
            return await verify_access_log(conn)
        finally:
            await conn.close()

    count, breaks = asyncio.run(go())
    if breaks:
        first = breaks[0]
        typer.echo(f"access log broken at seq {first.seq}: {first.problem}", err=True)
        for more in breaks[1:]:
            typer.echo(f"  also seq {more.seq}: {more.problem}", err=True)
        typer.echo(f"{count} entries, {len(breaks)} break(s); first broken row: seq {first.seq}")
        sys.exit(1)
    typer.echo(f"{count} entries, chain intact")


@cli.command("access-log-report")
def access_log_report_command(
    month: Annotated[str, typer.Option("--month", help="対象月 (YYYY-MM, 日本時間)")],
    output_dir: Annotated[
        Path | None, typer.Option("--output-dir", help="出力先 (既定: COUNTER_AUDIT_REPORT_DIR)")
    ] = None,
) -> None:
    """アクセスログ分析報告: the month's access-log review as a PDF with charts and a CSV of findings (thresholds:
    COUNTER_AUDIT_*); the run writes its own access-log row."""
    report_command(month, output_dir)


@cli.command("disclosure-schema")
def disclosure_schema_command(
    write: bool = typer.Option(False, "--write", help="write the committed schema instead of checking it"),
) -> None:
    """The JSON Schema of the 開示請求 export (counter/schemas/disclosure-export.v1.json): check it, or --write it."""
    if write:
        SCHEMA_PATH.write_text(schema_text())
        typer.echo(f"written: {SCHEMA_PATH}")
    elif SCHEMA_PATH.read_text() != schema_text():
        typer.echo(f"{SCHEMA_PATH} differs from the model: run counter disclosure-schema --write", err=True)
        sys.exit(1)


if __name__ == "__main__":
    cli()
