"""Operating the whole platform: set up a database and a broker for every service.

Service packages are found by module name (``<service>.app``) so that this library depends on
none of them; an installation without one of the services simply does not list it.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
from typing import Any

import typer
from kokunen_contracts.registry import TOPICS

from .cli import log_to_stderr, operator_cli
from .crypto import generate_key
from .database_setup import BY_SERVICE, SERVICE_SCHEMAS, bootstrap, url_for_role
from .messaging import ensure_topics
from .settings import ServiceSettings


def service_app(service: str) -> Any:
    return importlib.import_module(f"{service}.app")


def installed_services() -> list[str]:
    """Services whose package is installed (and has its ``app`` module)."""
    return [
        s.service
        for s in SERVICE_SCHEMAS
        if importlib.util.find_spec(s.service) is not None and importlib.util.find_spec(f"{s.service}.app") is not None
    ]


async def migrate_all(admin_url: str, services: list[str] | None = None) -> None:
    """Migrate each service's schema as that schema's owner role."""
    for service in services or installed_services():
        owner = url_for_role(admin_url, BY_SERVICE[service].owner_role)
        settings = ServiceSettings(database_url=owner, migration_database_url=owner)
        await service_app(service).build(settings).migrate()


async def prepare(admin_url: str, kafka_bootstrap: str, replication_factor: int = 1) -> list[str]:
    """Roles, schemas, migrations and topics: everything a fresh database and broker need."""
    await bootstrap(admin_url)
    await migrate_all(admin_url)
    return await ensure_topics(
        ServiceSettings(kafka_bootstrap_servers=kafka_bootstrap), TOPICS, replication_factor=replication_factor
    )


cli = operator_cli("kokunen-admin — set up and operate the platform")


@cli.callback()
def logs_off_stdout() -> None:
    log_to_stderr("kokunen-admin")


@cli.command("prepare")
def prepare_command(
    admin_url: str = typer.Option(..., envvar="ADMIN_DATABASE_URL", help="superuser URL of the kokunen database"),
    bootstrap_servers: str = typer.Option(..., envvar="KAFKA_BOOTSTRAP_SERVERS"),
    replication_factor: int = typer.Option(1, help="3 on a production cluster"),
) -> None:
    """Create roles and schemas, migrate every service, create every topic (idempotent)."""
    created = asyncio.run(prepare(admin_url, bootstrap_servers, replication_factor))
    typer.echo(f"prepared; topics created: {', '.join(created) or 'none (all existed)'}")


@cli.command("replay")
def replay_command(service: str = typer.Option(..., help="residency_sync, eligibility, transfer_dispatch, …")) -> None:
    """Rebuild SERVICE's slice from the retained topics (run with the service stopped, with its own
    settings: DATABASE_URL, MIGRATION_DATABASE_URL for its owner role, KAFKA_BOOTSTRAP_SERVERS, keys)."""
    from .replay import replay

    if service not in installed_services():
        raise typer.BadParameter(f"{service!r} is not one of {', '.join(installed_services())}", param_hint="--service")
    settings = ServiceSettings()
    if settings.migration_database_url is None:
        raise typer.BadParameter("MIGRATION_DATABASE_URL (the schema owner's URL) is needed to empty the slice")
    runtime = service_app(service).build(settings)
    report = asyncio.run(replay(runtime, settings.migration_database_url.get_secret_value()))
    typer.echo(f"{report.service}: {report.records} records from {', '.join(report.topics)} in {report.seconds} s")


@cli.command("kafka-acls")
def kafka_acls_command(
    apply: bool = typer.Option(False, "--apply", help="create the SCRAM users and ACLs (as the super user)"),
) -> None:
    """Print the ACLs the topic registry implies (one principal per service and department); with --apply,
    create them and each principal's SCRAM user, its password from KAFKA_PASSWORD_<PRINCIPAL> (``-`` → ``_``)."""
    import os

    from . import kafka_acls

    services = tuple(s.service for s in SERVICE_SCHEMAS)
    rules = kafka_acls.acl_rules(TOPICS, services=services)
    for rule in rules:
        typer.echo(str(rule))
    if not apply:
        return
    users = {}
    for principal in kafka_acls.principals(TOPICS):
        password = os.environ.get(f"KAFKA_PASSWORD_{principal.upper().replace('-', '_')}")
        if password:
            users[principal] = password
    asyncio.run(kafka_acls.apply(ServiceSettings(), rules, users))
    typer.echo(f"applied {len(rules)} ACLs; SCRAM users set: {', '.join(sorted(users)) or 'none'}")


@cli.command("config-reference")
def config_reference_command() -> None:
    """Print the configuration reference (docs/configuration.md) generated from the settings classes."""
    from .config_reference import render

    typer.echo(render(), nl=False)


@cli.command("new-key")
def new_key() -> None:
    """Print a fresh random 256-bit key (base64) for MYNUMBER_KEYS or MYNUMBER_HASH_KEY."""
    typer.echo(generate_key())


if __name__ == "__main__":
    cli()
