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
from kokunen_contracts.registry import CALENDAR_FACT, FILING_SUBMITTED, JPS_PROCESSING_RESULT, PERSON_CHANGED

from .calendar import calendar_job, run_calendar
from .handlers import (
    on_calendar_fact,
    on_filing_submitted,
    on_jps_processing_result,
    on_person_changed,
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
    runtime.consumer.subscribe(PERSON_CHANGED, on_person_changed)
    runtime.consumer.subscribe(CALENDAR_FACT, on_calendar_fact)
    runtime.consumer.subscribe(FILING_SUBMITTED, on_filing_submitted)
    runtime.consumer.subscribe(JPS_PROCESSING_RESULT, on_jps_processing_result)
    return runtime


cli = service_cli(
    "eligibility — 資格管理: category-1 qualification by 国民年金法",
    build,
    run_help="Consume person changes, calendar facts, filings and JPS results; publish qualification changes.",
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


if __name__ == "__main__":
    cli()
