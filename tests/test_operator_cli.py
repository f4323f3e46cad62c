"""The operator commands: options checked with a clear message and exit status 2, periods defaulting to
the last whole one, help readable at 80 columns, and logs kept off stdout (the command's report)."""

from __future__ import annotations

import json
import unicodedata
from datetime import date
from typing import Any

import pytest
import typer
from kokunen_common.cli import day_option, last_month, last_week, month_option, week_option
from kokunen_testing.infra import Infra
from typer.main import get_command
from typer.testing import CliRunner

runner = CliRunner()


def apps() -> dict[str, typer.Typer]:
    from counter.app import cli as counter
    from eligibility.app import cli as eligibility
    from kokunen_common.platform import cli as admin
    from residency_sync.app import cli as residency
    from tax_sync.app import cli as tax
    from transfer_dispatch.app import cli as dispatch

    return {
        "residency-sync": residency,
        "tax-sync": tax,
        "eligibility": eligibility,
        "transfer-dispatch": dispatch,
        "kokunen-admin": admin,
        "counter": counter,
    }


def columns(line: str) -> int:
    """Width on a terminal: East Asian wide and full-width characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


def every_command() -> list[tuple[str, list[str]]]:
    found = []
    for name, app in apps().items():
        group = get_command(app)
        found.append((name, []))
        found += [(name, [command]) for command in group.commands]  # type: ignore[attr-defined]
    return found


def help_of(program: str, command: list[str]) -> str:
    """The help as a terminal of any width shows it (CliRunner would force 80 columns)."""
    group: Any = get_command(apps()[program])
    ctx = group.context_class(group, info_name=program, **group.context_settings)
    if not command:
        return str(group.get_help(ctx))
    sub = group.commands[command[0]]
    return str(sub.get_help(sub.context_class(sub, info_name=command[0], parent=ctx, **sub.context_settings)))


@pytest.mark.parametrize(
    ("program", "command"), every_command(), ids=lambda v: " ".join(v) if isinstance(v, list) else v
)
def test_help_fits_80_columns(program: str, command: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    text = help_of(program, command)
    assert "Usage:" in text
    too_wide = [line for line in text.splitlines() if columns(line) > 80]
    assert not too_wide, too_wide


@pytest.mark.parametrize(
    ("program", "args", "says"),
    [
        ("transfer-dispatch", ["monthly", "--recipient", "nhi", "--month", "2026/11"], "write YYYY-MM"),
        ("transfer-dispatch", ["monthly", "--recipient", "nhi", "--month", "2026-13"], "write YYYY-MM"),
        ("transfer-dispatch", ["monthly-nhi", "--month", "November"], "write YYYY-MM"),
        ("transfer-dispatch", ["jps-weekly", "--week", "2026-47"], "write YYYY-Www"),
        ("transfer-dispatch", ["jps-weekly", "--week", "2026-W54"], "2026 has no week 54"),
        ("eligibility", ["run-calendar", "--date", "2026-02-30"], "write YYYY-MM-DD"),
        ("eligibility", ["run-calendar", "--date", "30.11.2026"], "write YYYY-MM-DD"),
        ("kokunen-admin", ["replay", "--service", "nosuch"], "nosuch"),
        ("kokunen-admin", ["rewind-to-database", "--service", "nosuch"], "nosuch"),
        ("kokunen-admin", ["prepare", "--replication-factor", "0"], "greater than or equal to 1"),
        ("kokunen-admin", ["publish", "no.such-topic.v1", "README.md"], "not a topic of the registry"),
        ("transfer-dispatch", ["no-such-command"], "No such command"),
        ("counter", ["access-log-report", "--month", "2026/11"], "2026-11 の形"),
    ],
)
def test_bad_options_get_a_clear_message_and_exit_status_2(program: str, args: list[str], says: str) -> None:
    result = runner.invoke(apps()[program], args, prog_name=program)
    assert result.exit_code == 2, result.output
    assert says in result.output
    assert "Traceback" not in result.output


def test_periods_default_to_the_last_whole_one() -> None:
    assert last_month(date(2026, 1, 15)) == "2025-12"
    assert last_month(date(2026, 3, 1)) == "2026-02"
    assert last_week(date(2026, 1, 1)) == "2025-W52"  # 2026-01-01 is in 2026-W01: the week before is 2025's
    assert last_week(date(2026, 11, 23)) == "2026-W47"
    assert month_option("2026-11") == "2026-11"
    assert week_option("2026-W47") == "2026-W47"
    assert day_option("2026-11-30") == "2026-11-30"
    assert month_option(None) == month_option("")  # omitted → the same computed default
    assert len(month_option(None)) == 7
    assert week_option(None).count("-W") == 1


@pytest.mark.integration
def test_logs_go_to_stderr_and_stdout_keeps_the_report(infra: Infra) -> None:
    from kokunen_common.platform import cli

    env = {
        "ADMIN_DATABASE_URL": infra.admin_db_url,
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap,
        "LOG_LEVEL": "INFO",
    }
    result = runner.invoke(cli, ["prepare"], prog_name="kokunen-admin", env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("prepared; topics created:")
    assert len(result.stdout.splitlines()) == 1
    logged = [json.loads(line) for line in result.stderr.splitlines()]
    assert {r["event"] for r in logged} >= {"migrations applied"}


def test_a_service_with_a_setting_that_does_not_parse_says_which_in_one_json_line() -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "METRICS_PORT": "nine thousand"}
    result = subprocess.run(
        [sys.executable, "-m", "residency_sync", "run"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    (line,) = [json.loads(line) for line in (result.stdout + result.stderr).splitlines()]
    assert line["event"] == "invalid configuration; exiting"
    assert line["error"].startswith("metrics_port:")
    assert "nine thousand" not in line["error"]  # the rule, not the value


def _run(args: list[str], **env: str) -> tuple[int, list[dict[str, Any]], str]:
    import os
    import subprocess

    environment = {k: v for k, v in os.environ.items() if not k.startswith(("MYNUMBER_", "KAFKA_"))}
    result = subprocess.run(args, env={**environment, **env}, capture_output=True, text=True, timeout=120)
    return result.returncode, [json.loads(line) for line in result.stderr.splitlines()], result.stdout


def test_a_service_missing_its_my_number_keys_exits_with_one_line_saying_so() -> None:
    import sys

    code, lines, stdout = _run([sys.executable, "-m", "residency_sync", "run"])
    service_lines = [json.loads(line) for line in stdout.splitlines()]  # a service logs on stdout
    assert code == 1
    errors = [r for r in [*service_lines, *lines] if r["level"] == "error"]
    assert [e["event"] for e in errors] == ["invalid configuration; exiting"]
    assert "MYNUMBER_KEYS" in errors[0]["error"]
    assert "exception" not in errors[0]


def test_an_operator_command_that_cannot_reach_kafka_says_so_in_one_line_not_a_traceback() -> None:
    import socket
    import sys
    from pathlib import Path

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        nowhere = f"127.0.0.1:{s.getsockname()[1]}"
    admin = str(Path(sys.executable).parent / "kokunen-admin")
    example = Path(__file__).resolve().parent.parent / "contracts/examples/residency.resident-changed.v1/death.json"
    code, lines, stdout = _run(
        [admin, "publish", "residency.resident-changed.v1", str(example)], KAFKA_BOOTSTRAP_SERVERS=nowhere
    )
    assert code == 1
    assert stdout == ""
    ours = [r for r in lines if r.get("logger") is None]
    assert [r["event"] for r in ours] == [f"cannot reach Kafka at {nowhere}; exiting"]
    assert "exception" not in ours[0]
