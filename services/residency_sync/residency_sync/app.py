"""Wiring of residency_sync (住民記録連携): subscriptions, migrations and the command line."""

from __future__ import annotations

import asyncio
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from kokunen_common.cli import log_to_stderr
from kokunen_common.messaging import Delivery, UnitOfWork
from kokunen_common.service import ServiceDefinition, ServiceRuntime, service_cli
from kokunen_common.settings import ServiceSettings
from kokunen_contracts.registry import CLEAR_MY_NUMBER_RETENTION_DAYS, RESIDENT_CHANGED
from kokunen_contracts.residency import ResidentChanged

from .handlers import ResidentChangeBatchHandler

SERVICE = "residency_sync"
SCHEMA = "residency"
MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: ServiceSettings | None = None) -> ServiceRuntime:
    # Its sealed history is the record (ADR 0012): the upstream topic keeps clear My Numbers only 30 days, so a
    # replay keeps the history and re-reads what the topic still holds (a change already there is a no-op).
    definition = ServiceDefinition(
        name=SERVICE,
        schema=SCHEMA,
        migrations_dir=MIGRATIONS,
        needs_vault=True,
        dead_letter_retention_days=CLEAR_MY_NUMBER_RETENTION_DAYS,  # its dead letters hold clear My Numbers
        kept_on_replay=(
            "person_version",
            "person",
            "parked_cancellation",
            "file_import",
            "import_reject",
            "import_absence",
            "import_difference",
            "dead_letter_purge",
        ),
    )
    runtime = ServiceRuntime(definition, settings)

    runtime.consumer.subscribe(RESIDENT_CHANGED, OnResidentChanged(runtime))
    return runtime


class OnResidentChanged:
    """``residency.resident-changed.v1``: each polled batch set-based (``ResidentChangeBatchHandler``), once the
    runtime has its My Number vault."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self._handler: ResidentChangeBatchHandler | None = None

    def handler(self) -> ResidentChangeBatchHandler:
        if self._handler is None:
            assert self.runtime.vault is not None
            self._handler = ResidentChangeBatchHandler(self.runtime.vault)
        return self._handler

    async def __call__(self, delivery: Delivery[ResidentChanged], uow: UnitOfWork) -> None:
        await self.handler()(delivery, uow)

    async def finish_batch(self, uow: UnitOfWork) -> None:
        await self.handler().finish_batch(uow)


cli = service_cli(
    "residency_sync — 住民記録連携: resident-record changes into the addressee slice",
    build,
    run_help="Consume resident-record changes and publish normalised person changes until stopped.",
)


class ExtractKind(StrEnum):
    FULL = "full"  # 全件 (現況): initial load and reconciliation
    DIFFERENTIAL = "differential"  # 差分: the day's changes, each with its 異動事由


@cli.command("import-file")
def import_file_command(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="the extract (CSV)")],
    kind: Annotated[ExtractKind, typer.Option(help="full (全件) or differential (差分)")],
    encoding: Annotated[str | None, typer.Option(help="utf-8 or cp932 (Shift_JIS); detected when omitted")] = None,
    batch_size: Annotated[int, typer.Option(help="lines per transaction (full extracts)")] = 5000,
) -> None:
    """Import a 連携基盤 extract: each line becomes a change; rejects and reconciliation are reported."""
    from .file_import import FileRejected, import_file

    settings = log_to_stderr(SERVICE)  # stdout is the report

    async def main() -> int:
        runtime = build(settings)
        await runtime.start(consumers=False, relay=False)
        try:
            assert runtime.vault is not None
            report = await import_file(runtime.pool, runtime.vault, path, kind.value, encoding, batch_size=batch_size)
        except FileRejected as exc:
            typer.echo(json.dumps({"file": path.name, "rejected": str(exc)}, ensure_ascii=False))
            return 1
        finally:
            await runtime.stop()
        typer.echo(json.dumps(report.summary(), ensure_ascii=False, indent=2))
        return 0

    raise typer.Exit(asyncio.run(main()))


if __name__ == "__main__":
    cli()
