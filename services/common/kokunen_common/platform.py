"""Operating the whole platform: set up a database and a broker for every service.

Service packages are found by module name (``<service>.app``) so that this library depends on
none of them; an installation without one of the services simply does not list it.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
from pathlib import Path
from typing import Annotated, Any

import typer
from kokunen_contracts.envelope import cloudevent_headers
from kokunen_contracts.registry import BY_NAME, CLEAR_MY_NUMBER_RETENTION_DAYS, TOPICS, TopicSpec, ce_source
from pydantic import ValidationError

from .cli import log_to_stderr, operator_cli
from .crypto import generate_key
from .database_setup import BY_SERVICE, SERVICE_SCHEMAS, bootstrap, url_for_role
from .errors import describe_validation_error
from .messaging import ensure_topics, idempotent_producer
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


async def prepare(
    admin_url: str,
    kafka_bootstrap: str,
    replication_factor: int | None = None,
    clear_my_number_retention_days: int = CLEAR_MY_NUMBER_RETENTION_DAYS,
) -> list[str]:
    """Roles, schemas, migrations and topics: everything a fresh database and broker need."""
    await bootstrap(admin_url)
    await migrate_all(admin_url)
    return await ensure_topics(
        ServiceSettings(kafka_bootstrap_servers=kafka_bootstrap),
        TOPICS,
        replication_factor=replication_factor,
        clear_my_number_retention_days=clear_my_number_retention_days,
    )


cli = operator_cli("kokunen-admin — set up and operate the platform")


@cli.callback()
def logs_off_stdout() -> None:
    log_to_stderr("kokunen-admin")


@cli.command("prepare")
def prepare_command(
    admin_url: str = typer.Option(..., envvar="ADMIN_DATABASE_URL", help="superuser URL of the kokunen database"),
    bootstrap_servers: str = typer.Option(..., envvar="KAFKA_BOOTSTRAP_SERVERS"),
    replication_factor: int | None = typer.Option(
        None, min=1, help="copies of each topic [default: the cluster's default.replication.factor]"
    ),
    clear_my_number_retention_days: int = typer.Option(
        CLEAR_MY_NUMBER_RETENTION_DAYS,
        envvar="CLEAR_MY_NUMBER_RETENTION_DAYS",
        help="days the topics carrying My Numbers in clear (and their dead-letter topics) keep them",
        min=1,
    ),
) -> None:
    """Create roles and schemas, migrate every service, create every topic (idempotent)."""
    created = asyncio.run(prepare(admin_url, bootstrap_servers, replication_factor, clear_my_number_retention_days))
    typer.echo(f"prepared; topics created: {', '.join(created) or 'none (all existed)'}")


def _installed(service: str) -> None:
    if service not in installed_services():
        raise typer.BadParameter(f"{service!r} is not one of {', '.join(installed_services())}", param_hint="--service")


@cli.command("replay")
def replay_command(service: str = typer.Option(..., help="residency_sync, eligibility, transfer_dispatch, …")) -> None:
    """Rebuild SERVICE's slice from the retained topics (run with the service stopped, with its own
    settings: DATABASE_URL, MIGRATION_DATABASE_URL for its owner role, KAFKA_BOOTSTRAP_SERVERS, keys)."""
    from .replay import replay

    _installed(service)
    settings = ServiceSettings()
    if settings.migration_database_url is None:
        raise typer.BadParameter("MIGRATION_DATABASE_URL (the schema owner's URL) is needed to empty the slice")
    runtime = service_app(service).build(settings)
    report = asyncio.run(replay(runtime, settings.migration_database_url.get_secret_value(), settle=True))
    typer.echo(f"{report.service}: {report.records} records from {', '.join(report.topics)} in {report.seconds} s")


@cli.command("rewind-to-database")
def rewind_to_database_command(
    service: str = typer.Option(..., help="residency_sync, eligibility, transfer_dispatch, …"),
    dry_run: bool = typer.Option(False, "--dry-run", help="print what would be committed, commit nothing"),
    wait: float = typer.Option(30.0, min=0, help="seconds to wait for members of a killed service to time out"),
) -> None:
    """After a point-in-time restore of the database: set SERVICE's consumer group to the offsets its database has
    applied through (its inbox), so that it re-reads what the restore took away. Run with the service stopped and its
    own settings (DATABASE_URL of the restored database, KAFKA_BOOTSTRAP_SERVERS, CONSUMER_GROUP if set)."""
    from .restore import rewind_to_database

    _installed(service)
    runtime = service_app(service).build(ServiceSettings())
    rewinds = asyncio.run(rewind_to_database(runtime, dry_run=dry_run, wait_s=wait))
    for r in rewinds:
        committed = "none" if r.committed is None else str(r.committed)
        note = f"  ({r.unreadable} deleted by retention: not re-readable)" if r.unreadable else ""
        typer.echo(f"{r.topic}[{r.partition}]: {committed} -> {r.restored} (re-reads {max(0, r.rewound)}){note}")
    total = sum(max(0, r.rewound) for r in rewinds)
    verb = "would re-read" if dry_run else "re-reads"
    typer.echo(f"{service}: {verb} {total} records on {len(rewinds)} partitions")


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


async def publish_files(settings: ServiceSettings, spec: TopicSpec, files: list[Path], source: str) -> list[str]:
    """Publish each JSON file as one event of ``spec``, with its key and CloudEvents headers derived from the
    body (``ce_id`` = ``event_id``, ``ce_time`` = ``recorded_at``); every file is checked before any is sent."""
    events = []
    for path in files:
        try:
            events.append(spec.model.model_validate_json(path.read_bytes()))
        except ValidationError as exc:
            raise typer.BadParameter(f"{path}: {describe_validation_error(exc)}", param_hint="FILES") from None
    producer = idempotent_producer(settings)
    try:
        await producer.start()
        sent = []
        for path, event in zip(files, events, strict=True):
            key = spec.key_of(event)
            metadata = await producer.send_and_wait(
                spec.name,
                value=event.model_dump_json().encode(),
                key=key.encode(),
                headers=cloudevent_headers(event, source=source),
            )
            sent.append(
                f"{path.name}: {spec.name}[{metadata.partition}]@{metadata.offset} key={key} ce_id={event.event_id}"
            )
        return sent
    finally:
        await producer.stop()


@cli.command("publish")
def publish_command(
    topic: Annotated[str, typer.Argument(help="the topic, e.g. residency.resident-changed.v1")],
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, help="JSON bodies, one event each")],
    source: Annotated[str | None, typer.Option(help="ce_source; default: its examples' (/<producer>)")] = None,
) -> None:
    """Publish event bodies to TOPIC with the key and CloudEvents headers the topic's contract wants."""
    spec = BY_NAME.get(topic)
    if spec is None:
        raise typer.BadParameter(f"{topic!r} is not a topic of the registry", param_hint="TOPIC")
    lines = asyncio.run(publish_files(ServiceSettings(), spec, files, source or ce_source(spec.producers[0])))
    typer.echo("\n".join(lines))


@cli.command("integration-guide")
def integration_guide_command(
    root: Annotated[Path, typer.Option(help="the repository (where contracts/examples is)")] = Path(),
) -> None:
    """Print the integration kit (docs/integration.md) generated from the registry and the golden examples."""
    from .integration_guide import render

    typer.echo(render(root), nl=False)


@cli.command("cluster-resources")
def cluster_resources_command(
    write: Annotated[bool, typer.Option("--write", help="write deploy/k8s/generated/ under --root")] = False,
    root: Annotated[Path, typer.Option(help="the repository")] = Path(),
) -> None:
    """Strimzi KafkaTopics, KEDA ScaledObjects and PodDisruptionBudgets derived from the topic registry."""
    from . import cluster_resources

    if write:
        cluster_resources.write(root)
        typer.echo(f"written: {root / cluster_resources.FOLDER}")
        return
    for name, text in cluster_resources.files().items():
        typer.echo(f"--- {name}\n{text}", nl=False)


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
