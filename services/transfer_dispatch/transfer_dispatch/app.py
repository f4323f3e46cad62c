"""Wiring of transfer_dispatch (提供・移転): subscriptions, migrations and the command line."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import asyncpg
import typer
from kokunen_common.cli import month_option
from kokunen_common.service import ServiceDefinition, ServiceRuntime, service_cli
from kokunen_common.settings import ServiceSettings
from kokunen_contracts.registry import JPS_REPORT_DUE, PERSON_CHANGED, QUALIFICATION_CHANGED

from . import commands
from .domain.policy import PolicyError, load_policies
from .domain.welfare_pension import RecipientListError
from .handlers import QualificationChangesHandler, describe
from .jps import cli as jps_cli
from .jps import handlers as jps
from .jps.adapters.medium import JpsSettings

T = TypeVar("T")

SERVICE = "transfer_dispatch"
SCHEMA = "dispatch"
MIGRATIONS = Path(__file__).parent / "migrations"
MONTH_HELP = "処理月 YYYY-MM; default: last month (JST)"
EXTRA_SETTINGS = (JpsSettings,)
"""Settings beside ServiceSettings, for the configuration reference (docs/configuration.md)."""


def build(settings: ServiceSettings | None = None) -> ServiceRuntime:
    definition = ServiceDefinition(
        name=SERVICE,
        schema=SCHEMA,
        migrations_dir=MIGRATIONS,
        # What was sent, and its log, happened once: no topic holds it, a replay keeps it (and which changes
        # each batch took). The imported 老齢福祉年金 lists are no topic's either.
        kept_on_replay=(
            "transfer_batch",
            "transfer_item",
            "batched_change",
            "transfer_log",
            "welfare_pension_import",
            "welfare_pension_recipient",
            *jps.KEPT_ON_REPLAY,
        ),
    )
    runtime = ServiceRuntime(definition, settings)
    runtime.consumer.subscribe(QUALIFICATION_CHANGED, QualificationChangesHandler())
    runtime.consumer.subscribe(JPS_REPORT_DUE, jps.JpsReportsBatchHandler())
    runtime.consumer.subscribe(PERSON_CHANGED, jps.JpsPersonsBatchHandler())
    return runtime


cli = service_cli(
    "transfer_dispatch — 提供・移転: policy-bound transfers and the transfer log",
    build,
    run_help="Consume qualification changes and relay transfer events until stopped.",
)
jps_cli.register(cli)


def _with_connection(work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    async def go() -> T:
        conn = await asyncpg.connect(ServiceSettings().database_url.get_secret_value())
        try:
            return await work(conn)
        finally:
            await conn.close()

    return asyncio.run(go())


@cli.command("monthly")
def monthly(
    recipient: str = typer.Option(..., help="policy id: child_allowance (移転2), long_term_care (移転3), nhi (移転4)"),
    month: Annotated[str, typer.Option(callback=month_option, show_default=False, help=MONTH_HELP)] = "",
) -> None:
    """Send one recipient's monthly transfer for a month as one batch (a rerun sends only corrections)."""
    book = load_policies()
    try:
        result = _with_connection(lambda conn: commands.monthly(conn, book, recipient, month))
    except PolicyError as exc:
        typer.echo(f"refused: {exc}", err=True)
        sys.exit(2)
    typer.echo(" ".join(f"{k}={v}" for k, v in describe(result).items()))


@cli.command("monthly-nhi")
def monthly_nhi(
    month: Annotated[str, typer.Option(callback=month_option, show_default=False, help=MONTH_HELP)] = "",
) -> None:
    """移転4: send the month's qualification changes to 国保年金課 as one batch (idempotent)."""
    monthly(recipient="nhi", month=month)


@cli.command("import-welfare-pension")
def import_welfare_pension(path: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """移転3: import a 老齢福祉年金受給者一覧 (CSV); the same file again changes nothing."""
    try:
        result = _with_connection(lambda conn: commands.import_welfare_pension(conn, path))
    except RecipientListError as exc:
        for problem in exc.problems:
            typer.echo(problem, err=True)
        typer.echo(f"refused: {len(exc.problems)} problem(s); nothing imported", err=True)
        sys.exit(2)
    state = "already imported: nothing changed" if result.already_imported else "imported"
    typer.echo(f"{result.recipients} recipients, sha256={result.file_sha256[:16]}…: {state}")


@cli.command("verify-log")
def verify_log() -> None:
    """Check the hash chain of the transfer log (提供・移転の記録); exit 1 on any break."""
    report = _with_connection(commands.verify_log)
    for b in report.breaks:
        typer.echo(f"seq {b.seq}: {b.problem}", err=True)
    typer.echo(f"{report.entries} entries, {report.batches} batches, {len(report.breaks)} break(s)")
    sys.exit(1 if report.breaks else 0)


if __name__ == "__main__":
    cli()
