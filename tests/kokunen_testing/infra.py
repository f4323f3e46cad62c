"""Where the integration tests find Kafka and PostgreSQL, in this order:

1. endpoints given in the environment (``KAFKA_BOOTSTRAP_SERVERS`` and ``ADMIN_DATABASE_URL``, a superuser URL);
2. containers (testcontainers) when a Docker engine answers;
3. the servers ``deploy/local/localstack.py`` launches from Maven jars and Debian's PostgreSQL.

Under ``CI=true`` a server that cannot be had is a failure, never a skip.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any


@dataclass
class Infra:
    kafka_bootstrap: str
    admin_db_url: str
    source: str
    stop_database: Callable[[], None] | None = None
    start_database: Callable[[], None] | None = None
    stop_kafka: Callable[[], None] | None = None
    start_kafka: Callable[[], object] | None = None
    """Stop and start the broker again (same port, same data): only for a broker this process started."""
    facts: dict[str, Any] = field(default_factory=dict)


def repo_root() -> Path:
    for folder in (Path.cwd(), *Path.cwd().parents):
        if (folder / "deploy" / "local" / "localstack.py").exists():
            return folder
    raise RuntimeError("cannot find the repository root (deploy/local/localstack.py) above the working directory")


def load_localstack() -> ModuleType:
    path = repo_root() / "deploy" / "local" / "localstack.py"
    spec = importlib.util.spec_from_file_location("localstack", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["localstack"] = module
    spec.loader.exec_module(module)
    return module


def _docker_answers() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:
        return False


@contextlib.contextmanager
def _from_containers() -> Iterator[Infra]:
    # Constructing a container already needs a Docker client: only reached when one answered.
    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.community.postgres import PostgresContainer

    with KafkaContainer().with_kraft() as kafka, PostgresContainer("postgres:16", driver=None, dbname="kokunen") as pg:
        yield Infra(kafka.get_bootstrap_server(), pg.get_connection_url(), "testcontainers")


@contextlib.contextmanager
def _from_local(statement_stats: bool) -> Iterator[Infra]:
    localstack = load_localstack()
    run_dir = Path(tempfile.mkdtemp(prefix="kokunen-test-"))
    kafka = localstack.start_kafka(run_dir / "kafka")
    try:
        postgres = localstack.start_postgres(run_dir / "postgres", fast=True, statement_stats=statement_stats)
        try:
            yield Infra(
                kafka.bootstrap,
                postgres.url,
                "local",
                stop_database=postgres.stop,
                start_database=postgres.start,
                stop_kafka=kafka.stop,
                start_kafka=kafka.start,
                facts={"kafka_version": kafka.version, "kafka_start_seconds": kafka.start_seconds},
            )
        finally:
            postgres.stop()
    finally:
        kafka.stop()
        # The servers' data (a broker's segments, a cluster's files: 1–9 GB after a suite or a benchmark) would
        # otherwise stay in /tmp after every run and fill the shared disk. KOKUNEN_KEEP_RUN_DIR=1 keeps it.
        if not os.environ.get("KOKUNEN_KEEP_RUN_DIR"):
            shutil.rmtree(run_dir, ignore_errors=True)


@contextlib.contextmanager
def acquire_infra(*, statement_stats: bool = False) -> Iterator[Infra]:
    """``statement_stats``: a PostgreSQL started here loads ``pg_stat_statements`` (the benchmarks' profile)."""
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    database = os.environ.get("ADMIN_DATABASE_URL")
    if bootstrap and database:
        yield Infra(bootstrap, database, "environment")
        return
    if _docker_answers():
        with _from_containers() as infra:
            yield infra
        return
    with _from_local(statement_stats) as infra:
        yield infra
