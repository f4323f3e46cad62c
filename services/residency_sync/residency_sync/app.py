"""Wiring of residency_sync (住民記録連携): subscriptions, migrations and the command line."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer
from kokunen_common.messaging import Delivery, UnitOfWork
from kokunen_common.service import ServiceDefinition, ServiceRuntime
from kokunen_common.settings import ServiceSettings
from kokunen_contracts.registry import RESIDENT_CHANGED
from kokunen_contracts.residency import ResidentChanged

from .handlers import ResidentChangeHandler

SERVICE = "residency_sync"
SCHEMA = "residency"
MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: ServiceSettings | None = None) -> ServiceRuntime:
    definition = ServiceDefinition(name=SERVICE, schema=SCHEMA, migrations_dir=MIGRATIONS, needs_vault=True)
    runtime = ServiceRuntime(definition, settings)

    async def on_resident_changed(delivery: Delivery[ResidentChanged], uow: UnitOfWork) -> None:
        assert runtime.vault is not None
        await ResidentChangeHandler(runtime.vault)(delivery, uow)

    runtime.consumer.subscribe(RESIDENT_CHANGED, on_resident_changed)
    return runtime


cli = typer.Typer(help="residency_sync — 住民記録連携: resident-record changes into the addressee slice")


@cli.command()
def run() -> None:
    """Consume resident-record changes and publish normalised person changes until stopped."""
    asyncio.run(build().faststream_app().run())


@cli.command()
def migrate() -> None:
    """Apply this service's migrations (as its owner role: MIGRATION_DATABASE_URL)."""
    asyncio.run(build().migrate())


if __name__ == "__main__":
    cli()
