"""make up / make down: the local stack and every service, in the background, until stopped.

    python deploy/local/stack.py up [--dir .local/stack]     # Kafka, PostgreSQL, prepare, every service
    python deploy/local/stack.py down [--dir .local/stack]   # stop the services, then the servers (idempotent)

``up`` starts Kafka and PostgreSQL through ``localstack.py``, creates the roles, schemas and topics
(``kokunen-admin prepare``), starts each service (``<service> run``) with its own database role and a
health port, waits until every ``/readyz`` answers 200 and prints the URLs and credentials. DIR keeps
the logs (``logs/<service>.log``), the pids, and ``env.sh`` with everything a client needs (``source`` it).
Local only: trust authentication on 127.0.0.1, so each role's password is its name.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from kokunen_common.database_setup import BY_SERVICE, url_for_role
from kokunen_common.logs import configure_logging
from kokunen_common.platform import installed_services, prepare

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import localstack  # noqa: E402  (stdlib-only launcher beside this file)

TOKENS_CSS = HERE.parent.parent / ".cache" / "design-tokens" / "1.1.9" / "package" / "dist" / "tokens.css"

READY_TIMEOUT_S = 180.0


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _state_file(run_dir: Path) -> Path:
    return run_dir / "services.json"


def service_env(service: str, bootstrap: str, admin_url: str, keys: dict[str, str], port: int) -> dict[str, str]:
    schema = BY_SERVICE[service]
    return {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "DATABASE_URL": url_for_role(admin_url, schema.app_role),
        "MIGRATION_DATABASE_URL": url_for_role(admin_url, schema.owner_role),
        "METRICS_PORT": str(port),
        **keys,
    }


def up(run_dir: Path) -> int:
    run_dir = run_dir.resolve()
    if _state_file(run_dir).exists():
        print(f"already up (from {run_dir}): `make down` first", file=sys.stderr)
        return 1
    state = localstack.up(run_dir, with_oidc=True)  # the OIDC provider the counter's staff sign in with
    bootstrap = str(state["kafka"]["bootstrap"])
    admin_url = str(state["postgres"]["url"])
    configure_logging("kokunen-admin", "WARNING", stream=sys.stderr)
    asyncio.run(prepare(admin_url, bootstrap))
    keys = {
        "MYNUMBER_KEYS": "local1:" + base64.b64encode(os.urandom(32)).decode(),
        "MYNUMBER_ACTIVE_KEY_ID": "local1",
        "MYNUMBER_HASH_KEY": base64.b64encode(os.urandom(32)).decode(),
    }
    services = start_services(run_dir, bootstrap, admin_url, keys, oidc_issuer=str(state["oidc"]["issuer"]))
    waiting = wait_until_ready(services)
    print(summary(run_dir, bootstrap, admin_url, services, waiting))
    return 1 if waiting else 0


def start_services(
    run_dir: Path, bootstrap: str, admin_url: str, env: dict[str, str], oidc_issuer: str | None = None
) -> dict[str, dict[str, Any]]:
    """Start every installed service (``<service> run``) in the background on prepared servers, each with its own
    database role, a free health port and ``env`` (the My Number keys, …); record them for ``down``, and write
    ``env.sh`` (the URLs and keys a client needs)."""
    logs = run_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    services: dict[str, dict[str, Any]] = {}
    for service in installed_services():
        port = localstack.free_port()
        service_environment = service_env(service, bootstrap, admin_url, env, port)
        if service == "counter":
            counter_port = localstack.free_port()
            service_environment |= {
                "COUNTER_HTTP_PORT": str(counter_port),
                "COUNTER_SESSION_SECRET": base64.b64encode(os.urandom(32)).decode(),
                "COUNTER_COOKIE_SECURE": "false",  # plain http on 127.0.0.1
                "COUNTER_DESIGN_TOKENS_CSS": str(TOKENS_CSS),
                **({"OIDC_ISSUER_URL": oidc_issuer} if oidc_issuer else {}),
            }
        with (logs / f"{service}.log").open("ab") as log:
            process = subprocess.Popen(
                [str(Path(sys.executable).parent / service.replace("_", "-")), "run"],
                env={**os.environ, **service_environment},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # outlives `make up`
            )
        services[service] = {"pid": process.pid, "port": port, "database_url": service_environment["DATABASE_URL"]}
        if service == "counter":
            services[service]["pages"] = f"http://127.0.0.1:{counter_port}"
    _state_file(run_dir).write_text(json.dumps({"services": services, "keys": env}, indent=2))
    exports = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "ADMIN_DATABASE_URL": admin_url, **env}
    env_file = run_dir / "env.sh"
    env_file.write_text("".join(f"export {k}={shlex.quote(v)}\n" for k, v in exports.items()))
    env_file.chmod(0o600)
    return services


def wait_until_ready(services: dict[str, dict[str, Any]], timeout_s: float = READY_TIMEOUT_S) -> set[str]:
    """Poll every service's ``/readyz`` until all answer 200 or the time is up; the services still not ready."""
    deadline = time.monotonic() + timeout_s
    waiting = set(services)
    while waiting and time.monotonic() < deadline:
        waiting = {s for s in waiting if not _ready(services[s]["port"])}
        if waiting:
            time.sleep(1)
    return waiting


def summary(
    run_dir: Path, bootstrap: str, admin_url: str, services: dict[str, dict[str, Any]], waiting: set[str]
) -> str:
    """What ``make up`` prints: where everything is and how to sign in or connect."""
    lines = [
        f"\nkokunen is up — logs in {run_dir / 'logs'}/, stop with `make down`\n",
        f"  Kafka        {bootstrap}   (KAFKA_BOOTSTRAP_SERVERS; no authentication)",
        f"  PostgreSQL   {admin_url}   (ADMIN_DATABASE_URL: superuser, trust on 127.0.0.1)",
        "\n  service              health                                   database role (password = role name)",
    ]
    for service, facts in services.items():
        status = "not ready yet" if service in waiting else "ready"
        health = f"http://127.0.0.1:{facts['port']}/readyz"
        lines.append(f"  {service:<20} {health:<40} {facts['database_url']}   [{status}]")
    if "counter" in services:
        staff = ", ".join(f"{p['username']} ({'・'.join(p['roles']) or 'no role'})" for p in localstack.DEMO_STAFF)
        lines.append(f"\n  counter (窓口)  {services['counter']['pages']}   sign in as: {staff}")
    lines.append(
        f"\n  My Number keys (MYNUMBER_KEYS, MYNUMBER_HASH_KEY) and the URLs above: source {run_dir / 'env.sh'}"
    )
    lines.append(
        "  metrics: the same port, /metrics; configuration: docs/configuration.md; publishing: docs/integration.md"
    )
    return "\n".join(lines)


def down(run_dir: Path) -> int:
    run_dir = run_dir.resolve()
    state_file = _state_file(run_dir)
    if state_file.exists():
        services = json.loads(state_file.read_text())["services"]
        for service, facts in services.items():
            pid = int(facts["pid"])
            if localstack.pid_alive(pid):
                localstack.terminate(pid, service, sig=signal.SIGTERM)
                print(f"{service} (pid {pid}) stopped", file=sys.stderr)
        state_file.unlink()
    localstack.down(run_dir)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument("--dir", type=Path, default=Path(".local/stack"), help="run folder (default .local/stack)")
    args = parser.parse_args(argv)
    return up(args.dir) if args.command == "up" else down(args.dir)


if __name__ == "__main__":
    sys.exit(main())
