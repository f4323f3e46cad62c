"""Wiring of tax_sync (住民税情報連携): subscriptions, the annual file, migrations and the command line."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import asyncpg
import typer
from kokunen_common.cli import log_to_stderr
from kokunen_common.messaging import idempotent_producer
from kokunen_common.service import ServiceDefinition, ServiceRuntime, service_cli
from kokunen_common.settings import ServiceSettings
from kokunen_contracts.registry import INCOME_ASSESSED, PERSON_CHANGED

from .adapters.annual_file import FileRejected, import_file
from .adapters.file_relay import FileRelay
from .handlers import IncomeAssessedHandler, on_person_changed

SERVICE = "tax_sync"
SCHEMA = "tax"
MIGRATIONS = Path(__file__).parent / "migrations"


async def file_relay_job(runtime: ServiceRuntime, stop: asyncio.Event) -> None:
    """Publish the annual files' figures from the slice (see adapters.file_relay)."""
    producer = idempotent_producer(runtime.settings)
    await producer.start()
    try:
        relay = FileRelay(
            service=SERVICE,
            database_url=runtime.database_url,
            producer=producer,
            batch_size=max(runtime.settings.outbox_batch_size, 10_000),
        )
        await relay.run(stop)
    finally:
        await producer.stop()


def build(settings: ServiceSettings | None = None) -> ServiceRuntime:
    definition = ServiceDefinition(
        name=SERVICE,
        schema=SCHEMA,
        migrations_dir=MIGRATIONS,
        # The annual file reaches the slice without a topic: a replay must keep what it brought.
        kept_on_replay=("imported_file", "income_assessment"),
        background_jobs=[file_relay_job],
    )
    runtime = ServiceRuntime(definition, settings)
    runtime.consumer.subscribe(INCOME_ASSESSED, IncomeAssessedHandler())
    runtime.consumer.subscribe(PERSON_CHANGED, on_person_changed)
    return runtime


cli = service_cli(
    "tax_sync — 住民税情報連携: resident-tax income for exemption screening",
    build,
    run_help="Consume income assessments and person changes; publish income figures until stopped.",
)


@cli.command("import-file")
def import_file_command(
    path: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="the annual CSV (UTF-8 or Shift_JIS/CP932)")
    ],
    reject_report: Annotated[
        Path | None, typer.Option(help="where to write rejected lines (default: PATH.rejects.csv)")
    ] = None,
) -> None:
    """Import the annual run's file into the income slice and publish its figures (through the outbox);
    importing the same file again changes nothing."""
    settings = log_to_stderr(SERVICE)

    async def go() -> int:
        conn = await asyncpg.connect(settings.database_url.get_secret_value())
        try:
            report = await import_file(conn, path, report_path=reject_report)
        except FileRejected as exc:
            typer.echo(f"{path.name}: rejected as a whole, nothing applied: {exc}", err=True)
            return 2
        finally:
            await conn.close()
        if report.already_imported:
            typer.echo(f"{path.name}: already imported (sha256 {report.file.digest[:16]}…): nothing to do")
            return 0
        r = report.result
        typer.echo(
            f"{path.name} ({report.file.encoding.removesuffix('-sig')}): {report.lines} lines, "
            f"{r.determined} determined, {r.corrected} corrected, {r.unchanged} unchanged (duplicate or stale), "
            f"{report.rejected} rejected → {report.reject_report}"
        )
        return 0

    sys.exit(asyncio.run(go()))


if __name__ == "__main__":
    cli()
