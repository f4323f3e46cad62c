"""Wiring of transfer_dispatch (提供・移転): subscriptions, migrations and the command line."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import asyncpg
import typer
from kokunen_common.service import ServiceDefinition, ServiceRuntime
from kokunen_common.settings import ServiceSettings
from kokunen_contracts.registry import JPS_REPORT_DUE, PERSON_CHANGED, QUALIFICATION_CHANGED

from .adapters.repository import DispatchRepository
from .domain.policy import load_policies
from .domain.transfer_log import verify_chain
from .handlers import on_qualification_changed, run_monthly_nhi_transfer
from .jps import cli as jps_cli
from .jps import handlers as jps

SERVICE = "transfer_dispatch"
SCHEMA = "dispatch"
MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: ServiceSettings | None = None) -> ServiceRuntime:
    definition = ServiceDefinition(
        name=SERVICE,
        schema=SCHEMA,
        migrations_dir=MIGRATIONS,
        # What was sent, and its log, happened once: no topic holds it, a replay keeps it.
        kept_on_replay=("transfer_batch", "transfer_item", "transfer_log", *jps.KEPT_ON_REPLAY),
    )
    runtime = ServiceRuntime(definition, settings)
    runtime.consumer.subscribe(QUALIFICATION_CHANGED, on_qualification_changed)
    runtime.consumer.subscribe(JPS_REPORT_DUE, jps.on_jps_report_due)
    runtime.consumer.subscribe(PERSON_CHANGED, jps.on_person_changed)
    return runtime


cli = typer.Typer(help="transfer_dispatch — 提供・移転: policy-bound transfers and the transfer log")
jps_cli.register(cli)


@cli.command()
def run() -> None:
    """Consume qualification changes and relay transfer events until stopped."""
    asyncio.run(build().faststream_app().run())


@cli.command()
def migrate() -> None:
    """Apply this service's migrations (as its owner role: MIGRATION_DATABASE_URL)."""
    asyncio.run(build().migrate())


@cli.command("monthly-nhi")
def monthly_nhi(month: str = typer.Option(..., help="処理月 YYYY-MM")) -> None:
    """移転4: send the month's qualification changes to 国保年金課 as one batch (idempotent)."""

    async def go() -> None:
        conn = await asyncpg.connect(ServiceSettings().database_url.get_secret_value())
        try:
            result = await run_monthly_nhi_transfer(conn, load_policies(), month)
        finally:
            await conn.close()
        typer.echo(f"batch={result.batch_id or '(nothing new)'} records={result.record_count}")

    asyncio.run(go())


@cli.command("verify-log")
def verify_log() -> None:
    """Check the hash chain of the transfer log (提供・移転の記録); exit 1 on any break."""

    async def go() -> int:
        conn = await asyncpg.connect(ServiceSettings().database_url.get_secret_value())
        try:
            entries = await DispatchRepository(conn).log_entries()
        finally:
            await conn.close()
        breaks = verify_chain(entries)
        for b in breaks:
            typer.echo(f"seq {b.seq}: {b.problem}", err=True)
        typer.echo(f"{len(entries)} entries, {len(breaks)} break(s)")
        return 1 if breaks else 0

    sys.exit(asyncio.run(go()))


if __name__ == "__main__":
    cli()
