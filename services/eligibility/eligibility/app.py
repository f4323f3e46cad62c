"""Wiring of eligibility (資格管理): subscriptions, migrations and the command line."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer
from kokunen_common.service import ServiceDefinition, ServiceRuntime
from kokunen_common.settings import ServiceSettings
from kokunen_contracts.registry import PERSON_CHANGED

from .handlers import on_person_changed

SERVICE = "eligibility"
SCHEMA = "eligibility"
MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: ServiceSettings | None = None) -> ServiceRuntime:
    runtime = ServiceRuntime(ServiceDefinition(name=SERVICE, schema=SCHEMA, migrations_dir=MIGRATIONS), settings)
    runtime.consumer.subscribe(PERSON_CHANGED, on_person_changed)
    return runtime


cli = typer.Typer(help="eligibility — 資格管理: category-1 qualification by 国民年金法")


@cli.command()
def run() -> None:
    """Consume person changes and publish qualification changes until stopped."""
    asyncio.run(build().faststream_app().run())


@cli.command()
def migrate() -> None:
    """Apply this service's migrations (as its owner role: MIGRATION_DATABASE_URL)."""
    asyncio.run(build().migrate())


if __name__ == "__main__":
    cli()
