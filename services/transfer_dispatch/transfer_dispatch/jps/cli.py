"""Commands of the JPS provision, added to ``transfer-dispatch``: jps-weekly, jps-inquiry, jps-results,
jps-decrypt. They print batch ids, counts and file names; never a My Number."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import asyncpg
import typer
from kokunen_common.cli import week_option
from kokunen_common.crypto import MyNumberVault
from kokunen_common.logs import configure_logging
from kokunen_common.settings import ServiceSettings

from ..domain.policy import load_policies
from .adapters.medium import JpsSettings, MediumError, MediumKey, open_sealed
from .domain.batch import InquiryTarget, IsoWeek
from .domain.layout import parse_file
from .service import Provision, ProvisionResult, answer_inquiry, import_results, run_weekly_report


def _settings() -> ServiceSettings:
    """The service's settings, with its JSON logs (the redacting processors included) switched on."""
    settings = ServiceSettings()
    configure_logging("transfer_dispatch", settings.log_level, settings.log_format, stream=sys.stderr)
    return settings


def _vault(settings: ServiceSettings) -> MyNumberVault:
    if settings.mynumber_keys is None or settings.mynumber_hash_key is None:
        raise typer.BadParameter("the JPS provision opens My Number: set MYNUMBER_KEYS and MYNUMBER_HASH_KEY")
    return MyNumberVault.from_config(
        settings.mynumber_keys.get_secret_value(),
        settings.mynumber_active_key_id,
        settings.mynumber_hash_key.get_secret_value(),
    )


def _provision(out: Path | None) -> Provision:
    settings = JpsSettings()
    try:
        key = MediumKey.from_settings(settings)
    except MediumError as exc:
        raise typer.BadParameter(str(exc)) from None
    return Provision(load_policies(), _vault(_settings()), key, settings, out or settings.jps_output_dir)


def _echo(result: ProvisionResult) -> None:
    if not result.new:
        typer.echo(f"batch={result.batch_id or '(none)'} already sent: nothing new, nothing written")
        return
    assert result.files is not None
    typer.echo(f"batch={result.batch_id} records={result.record_count}")
    typer.echo(f"medium={result.files.sealed}\nmanifest={result.files.manifest}\nlist={result.files.pdf}")


async def _connect() -> asyncpg.Connection:
    return await asyncpg.connect(ServiceSettings().database_url.get_secret_value())


def register(cli: typer.Typer) -> None:
    @cli.command("jps-weekly")
    def jps_weekly(
        week: Annotated[
            str,
            typer.Option(
                callback=week_option,
                show_default=False,
                help="週 YYYY-Www (ISO 8601), e.g. 2026-W47; default: last week",
            ),
        ] = "",
        out: Annotated[
            Path | None, typer.Option(help="folder for the medium, manifest and list (JPS_OUTPUT_DIR)")
        ] = None,
    ) -> None:
        """提供1: the weekly 進達 of reports received in WEEK — encrypted medium, manifest, printed list."""
        iso_week = IsoWeek.parse(week)
        provision = _provision(out)

        async def go() -> ProvisionResult:
            conn = await _connect()
            try:
                return await run_weekly_report(conn, provision, iso_week)
            finally:
                await conn.close()

        _echo(asyncio.run(go()))

    @cli.command("jps-inquiry")
    def jps_inquiry(
        inquiry_id: Annotated[str, typer.Option(help="照会番号 given by JPS")],
        numbers: Annotated[
            list[str] | None, typer.Argument(help="基礎年金番号 (NNNN-NNNNNN) or 宛名番号 (digits)")
        ] = None,
        numbers_file: Annotated[Path | None, typer.Option("--file", help="one number a line")] = None,
        out: Annotated[Path | None, typer.Option(help="folder for the medium, manifest and list")] = None,
    ) -> None:
        """提供1 on inquiry: answer JPS's inquiry about the persons named, in the 進達 file format."""
        lines = list(numbers or [])
        if numbers_file is not None:
            lines += [line for line in numbers_file.read_text(encoding="utf-8").splitlines() if line.strip()]
        if not lines:
            raise typer.BadParameter("name at least one 基礎年金番号 or 宛名番号")
        targets = [InquiryTarget.parse(line) for line in lines]
        provision = _provision(out)

        async def go() -> ProvisionResult:
            conn = await _connect()
            try:
                return await answer_inquiry(conn, provision, inquiry_id, targets)
            finally:
                await conn.close()

        _echo(asyncio.run(go()))

    @cli.command("jps-results")
    def jps_results(
        path: Annotated[Path, typer.Argument(help="処理結果一覧表 (CSV, UTF-8 or CP932)")],
        out: Annotated[Path | None, typer.Option(help="folder for the reconciliation report")] = None,
    ) -> None:
        """Import a processing-result list: reconcile, publish results for eligibility, print the report."""
        settings = JpsSettings()
        vault = _vault(_settings())
        data = path.read_bytes()

        async def go() -> None:
            conn = await _connect()
            try:
                result = await import_results(
                    conn, vault, data, file_name=path.name, out_dir=out or settings.jps_output_dir
                )
            finally:
                await conn.close()
            summary = " ".join(f"{k}={v}" for k, v in result.counts.items())
            if not result.new:
                typer.echo(f"list={result.list_id[:16]} already imported: nothing new ({summary})")
                return
            typer.echo(f"list={result.list_id[:16]} {summary} published={result.published}")
            typer.echo(f"report={result.report_path}\npdf={result.pdf_path}")

        asyncio.run(go())

    @cli.command("jps-decrypt")
    def jps_decrypt(
        medium: Annotated[Path, typer.Argument(help="a .dat.enc medium")],
        out: Annotated[Path, typer.Option(help="where to write the plain fixed-length file")],
    ) -> None:
        """The receiving side: open a medium with JPS_MEDIUM_KEY and check its records and trailer."""
        try:
            key = MediumKey.from_settings(JpsSettings())
            plain = open_sealed(medium.read_bytes(), key)
            parsed = parse_file(plain)
        except (MediumError, ValueError) as exc:
            typer.echo(f"cannot open {medium.name}: {exc}", err=True)
            sys.exit(1)
        out.write_bytes(plain)
        typer.echo(f"batch={parsed.header['batch_id']} records={len(parsed.records)} written to {out}")
