"""Wiring of eligibility (資格管理): subscriptions, the calendar scheduler, migrations and the command line."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import Annotated

import asyncpg
import typer
from kokunen_common.cli import day_option
from kokunen_common.service import ServiceDefinition, ServiceRuntime, service_cli
from kokunen_common.settings import ServiceSettings
from kokunen_contracts.registry import (
    BENEFIT_CLAIM_SUBMITTED,
    CALENDAR_FACT,
    EXEMPTION_APPLICATION_SUBMITTED,
    EXEMPTION_CONTINUATION_RUN,
    EXEMPTION_NOTIFICATION_SUBMITTED,
    FILING_SUBMITTED,
    INCOME_DETERMINED,
    JPS_PROCESSING_RESULT,
    PERSON_CHANGED,
)

from .calendar import calendar_job, run_calendar
from .claims.handlers import on_benefit_claim
from .exemptions.continuation import on_continuation_run, run_continuation
from .exemptions.handlers import on_exemption_application, on_exemption_notification, on_income_determined
from .handlers import (
    CalendarFactsBatchHandler,
    PersonChangesBatchHandler,
    on_filing_submitted,
    on_jps_processing_result,
    today_in_japan,
)

SERVICE = "eligibility"
SCHEMA = "eligibility"
MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: ServiceSettings | None = None, *, with_calendar: bool = True) -> ServiceRuntime:
    definition = ServiceDefinition(
        name=SERVICE,
        schema=SCHEMA,
        migrations_dir=MIGRATIONS,
        kept_on_replay=("calendar_watermark",),
        background_jobs=[calendar_job] if with_calendar else [],
    )
    runtime = ServiceRuntime(definition, settings)
    runtime.consumer.subscribe(PERSON_CHANGED, PersonChangesBatchHandler())
    runtime.consumer.subscribe(CALENDAR_FACT, CalendarFactsBatchHandler())
    runtime.consumer.subscribe(FILING_SUBMITTED, on_filing_submitted)
    runtime.consumer.subscribe(JPS_PROCESSING_RESULT, on_jps_processing_result)
    runtime.consumer.subscribe(INCOME_DETERMINED, on_income_determined)
    runtime.consumer.subscribe(EXEMPTION_APPLICATION_SUBMITTED, on_exemption_application)
    runtime.consumer.subscribe(EXEMPTION_NOTIFICATION_SUBMITTED, on_exemption_notification)
    runtime.consumer.subscribe(EXEMPTION_CONTINUATION_RUN, on_continuation_run)
    runtime.consumer.subscribe(BENEFIT_CLAIM_SUBMITTED, on_benefit_claim)
    return runtime


cli = service_cli(
    "eligibility — 資格管理: category-1 qualification by 国民年金法",
    build,
    run_help="Consume person changes, calendar facts, filings, incomes, exemption applications and JPS results; "
    "publish qualification changes and exemption screenings.",
)


@cli.command("run-calendar")
def run_calendar_command(
    through: Annotated[
        str,
        typer.Option(
            "--date",
            callback=day_option,
            show_default=False,
            help="cover facts up to this day (YYYY-MM-DD); default today (JST)",
        ),
    ] = "",
) -> None:
    """Issue the calendar facts due up to a day (safe to repeat): 20歳・60歳到達, 転出予定日の到来."""

    async def go() -> None:
        conn = await asyncpg.connect(ServiceSettings().database_url.get_secret_value())
        try:
            day = date.fromisoformat(through) if through else today_in_japan()
            result = await run_calendar(conn, day)
        finally:
            await conn.close()
        typer.echo(
            f"covered {result.since} → {result.through}: reached 20 {result.reached_20}, "
            f"reached 60 {result.reached_60}, moves due {result.moves_due}"
        )

    asyncio.run(go())


@cli.command("exemption-continuation")
def exemption_continuation_command(
    year: int = typer.Option(..., "--year", min=2000, max=2100, help="the 年度 from July of this year (e.g. 2027)"),
) -> None:
    """継続審査 (July): screen the approved 全額免除・納付猶予 again.

    Those who asked for continuation, on the new income year; prints the counts. Safe to repeat.
    """

    async def go() -> None:
        conn = await asyncpg.connect(ServiceSettings().database_url.get_secret_value())
        try:
            report = await run_continuation(conn, year)
        finally:
            await conn.close()
        typer.echo(report.as_json())

    asyncio.run(go())


if __name__ == "__main__":
    cli()
