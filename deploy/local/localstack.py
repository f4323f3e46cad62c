#!/usr/bin/env python3
"""A private Apache Kafka broker and PostgreSQL server on free 127.0.0.1 ports, without Docker.

Kafka 4.x (KRaft, one combined broker+controller node) runs from Maven Central jars fetched with
Maven into ``.cache/kafka/<pom hash>/libs``; PostgreSQL from Debian's packages (installed with apt-get
when missing), as the ``postgres`` user when run as root (initdb refuses root).

Standard library only: ``make`` calls it before the project's venv exists.

    python3 deploy/local/localstack.py fetch                 # the jars only
    python3 deploy/local/localstack.py up --dir .local/run   # both servers; prints export lines
    python3 deploy/local/localstack.py down --dir .local/run # stop what state.json lists
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import os
import pwd
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import TracebackType

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
POM = HERE / "kafka" / "pom.xml"
LOG4J = HERE / "kafka" / "log4j2.properties"
CACHE = REPO / ".cache" / "kafka"
READY_TIMEOUT_S = 90.0


class LocalStackError(RuntimeError):
    """A server could not be fetched, started or stopped; the message says what and where to look."""


def _log(message: str) -> None:
    print(f"[localstack] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_for_exit(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            finished, _ = os.waitpid(pid, os.WNOHANG)
            if finished == pid:
                return True
        except ChildProcessError:
            # Not our child (stopped from another process): poll for existence instead.
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
        time.sleep(0.1)
    return False


def _terminate(pid: int, what: str, timeout_s: float = 30.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if not _wait_for_exit(pid, timeout_s):
        _log(f"{what} (pid {pid}) did not stop within {timeout_s:.0f} s: SIGKILL")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _wait_for_exit(pid, 10)


# --- Kafka -------------------------------------------------------------------------------------


def kafka_version() -> str:
    text = POM.read_text()
    marker = "<artifactId>kafka_2.13</artifactId><version>"
    start = text.index(marker) + len(marker)
    return text[start : text.index("<", start)]


def ensure_kafka_jars() -> Path:
    """The broker's classpath folder, fetched once with Maven and cached by the POM's hash."""
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()[:16]
    libs = CACHE / digest / "libs"
    marker = CACHE / digest / "complete"
    if marker.exists():
        return libs
    if shutil.which("mvn") is None:
        raise LocalStackError("Maven (mvn) is not installed: apt-get install -y maven")
    if libs.exists():
        shutil.rmtree(libs)
    libs.mkdir(parents=True)
    started = time.monotonic()
    command = [
        "mvn",
        "-B",
        "-q",
        "-f",
        str(POM),
        "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={libs}",
    ]
    _log(f"fetching Kafka {kafka_version()} jars from Maven Central")
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise LocalStackError(f"`{' '.join(command)}` failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    jars = list(libs.glob("*.jar"))
    if not any(j.name.startswith("kafka_2.13-") for j in jars):
        raise LocalStackError(f"Maven finished but {libs} has no kafka_2.13 jar")
    marker.write_text(f"{len(jars)} jars, fetched in {time.monotonic() - started:.1f} s\n")
    _log(f"{len(jars)} jars in {time.monotonic() - started:.1f} s")
    return libs


def _api_versions_ok(port: int) -> bool:
    """A real Kafka protocol round trip: ApiVersions v0 (every broker version answers it)."""
    correlation_id = 7
    client_id = b"localstack"
    header = struct.pack(">hhih", 18, 0, correlation_id, len(client_id)) + client_id
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(struct.pack(">i", len(header)) + header)
            size_bytes = sock.recv(4)
            if len(size_bytes) < 4:
                return False
            (size,) = struct.unpack(">i", size_bytes)
            body = b""
            while len(body) < size:
                chunk = sock.recv(size - len(body))
                if not chunk:
                    return False
                body += chunk
            received_id, error_code = struct.unpack(">ih", body[:6])
            return bool(received_id == correlation_id and error_code == 0)
    except OSError:
        return False


class KafkaServer:
    """One KRaft node (broker and controller) with its data under ``run_dir``."""

    def __init__(self, run_dir: Path, port: int | None = None) -> None:
        self.run_dir = run_dir.resolve()
        self.port = port or free_port()
        self.controller_port = free_port()
        self.version = kafka_version()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.pid: int | None = None
        self.start_seconds: float | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def log_file(self) -> Path:
        return self.run_dir / "logs" / "server.log"

    def _properties(self) -> str:
        return "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
                f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                f"log.dirs={self.run_dir / 'data'}",
                "num.partitions=1",
                "default.replication.factor=1",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "transaction.state.log.num.partitions=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "min.insync.replicas=1",
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=false",
                "num.network.threads=2",
                "num.io.threads=2",
                "background.threads=4",
                "num.recovery.threads.per.data.dir=1",
                "log.cleaner.dedupe.buffer.size=16777216",
                "log.retention.hours=-1",
                "",
            ]
        )

    def start(self) -> KafkaServer:
        libs = ensure_kafka_jars()
        java = shutil.which("java")
        if java is None:
            raise LocalStackError("java is not installed (Kafka 4.x needs Java 17+): apt-get install -y openjdk-17-jre")
        (self.run_dir / "logs").mkdir(parents=True, exist_ok=True)
        config = self.run_dir / "server.properties"
        config.write_text(self._properties())
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        classpath = f"{libs}/*"
        started = time.monotonic()
        fmt = subprocess.run(
            [
                java,
                "-Xmx512m",
                "-cp",
                classpath,
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(config),
                "--ignore-formatted",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if fmt.returncode != 0:
            raise LocalStackError(f"kafka storage format failed:\n{fmt.stdout[-2000:]}{fmt.stderr[-2000:]}")
        command = [
            java,
            "-Xms512m",
            "-Xmx512m",
            "-server",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={self.run_dir / 'logs'}",
            f"-Dlog4j2.configurationFile={LOG4J}",
            "-cp",
            classpath,
            "kafka.Kafka",
            str(config),
        ]
        stdout = (self.run_dir / "logs" / "stdout.log").open("ab")
        self._process = subprocess.Popen(command, stdout=stdout, stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self._process.pid
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise LocalStackError(f"Kafka exited with {self._process.returncode} while starting:\n{self.tail()}")
            if _api_versions_ok(self.port) and "Kafka Server started" in self._log_text():
                self.start_seconds = round(time.monotonic() - started, 1)
                _log(f"Kafka {self.version} on {self.bootstrap} (pid {self.pid}) ready in {self.start_seconds} s")
                return self
            time.sleep(0.25)
        self.stop()
        raise LocalStackError(f"Kafka did not become ready within {READY_TIMEOUT_S:.0f} s:\n{self.tail()}")

    def _log_text(self) -> str:
        for path in (self.log_file, self.run_dir / "logs" / "stdout.log"):
            with contextlib.suppress(OSError):
                text = path.read_text(errors="replace")
                if "Kafka Server started" in text:
                    return text
        return ""

    def tail(self, lines: int = 60) -> str:
        chunks = []
        for path in (self.log_file, self.run_dir / "logs" / "stdout.log"):
            with contextlib.suppress(OSError):
                chunks.append(f"--- {path}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:]))
        return "\n".join(chunks)

    def stop(self) -> None:
        if self.pid is not None:
            _terminate(self.pid, "Kafka")
            self.pid = None

    def __enter__(self) -> KafkaServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def start_kafka(run_dir: Path, port: int | None = None) -> KafkaServer:
    return KafkaServer(run_dir, port).start()


# --- PostgreSQL --------------------------------------------------------------------------------


def postgres_bindir() -> Path:
    """The newest Debian PostgreSQL installed; apt-get installs it when there is none."""
    root = Path("/usr/lib/postgresql")

    def versions() -> list[Path]:
        found = [p for p in root.glob("*/bin/initdb")] if root.exists() else []
        return sorted((p.parent for p in found), key=lambda b: int(b.parent.name) if b.parent.name.isdigit() else 0)

    if not versions():
        if os.geteuid() != 0:
            raise LocalStackError("PostgreSQL server is not installed and we are not root: apt-get install postgresql")
        _log("installing PostgreSQL from Debian's packages")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"]):
            result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
            if result.returncode != 0:
                raise LocalStackError(f"`{' '.join(command)}` failed:\n{result.stderr[-2000:]}")
    found = versions()
    if not found:
        raise LocalStackError("PostgreSQL installed but no /usr/lib/postgresql/*/bin/initdb found")
    return found[-1]


class PostgresServer:
    """A private cluster (data under ``run_dir``) listening on 127.0.0.1 only."""

    def __init__(self, run_dir: Path, port: int | None = None, fast: bool = False) -> None:
        self.run_dir = run_dir.resolve()
        self.port = port or free_port()
        self.fast = fast
        self.bindir = postgres_bindir()
        self.database = "kokunen"
        self.start_seconds: float | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    admin_url = url

    @property
    def data_dir(self) -> Path:
        return self.run_dir / "data"

    def _as_postgres(self, command: list[str]) -> subprocess.CompletedProcess[str]:
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=False)

    def _prepare_dir(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            # postgres must be able to reach the folder: open the parents for traversal only.
            for parent in [self.run_dir, *self.run_dir.parents]:
                if parent == Path("/"):
                    break
                mode = parent.stat().st_mode
                if not mode & 0o001:
                    os.chmod(parent, mode | 0o001)
            os.chown(self.run_dir, user.pw_uid, user.pw_gid)

    def start(self) -> PostgresServer:
        started = time.monotonic()
        if not (self.data_dir / "PG_VERSION").exists():
            self._prepare_dir()
            init = self._as_postgres(
                [
                    str(self.bindir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                    "--no-sync",
                ]
            )
            if init.returncode != 0:
                raise LocalStackError(f"initdb failed:\n{init.stdout[-2000:]}{init.stderr[-2000:]}")
        options = [
            f"-p {self.port}",
            f"-k {self.run_dir}",
            "-c listen_addresses=127.0.0.1",
            "-c max_connections=200",
            "-c shared_buffers=256MB",
            "-c max_wal_size=2GB",
        ]
        if self.fast:
            # Throwaway test and benchmark clusters only: durability traded for speed.
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        result = self._as_postgres(
            [
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-o",
                " ".join(options),
                "-l",
                str(self.run_dir / "postgres.log"),
                "-w",
                "-t",
                "60",
                "start",
            ]
        )
        if result.returncode != 0:
            raise LocalStackError(f"pg_ctl start failed:\n{result.stderr[-2000:]}\n{self.tail()}")
        exists = self._as_postgres(
            [
                str(self.bindir / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-tAc",
                f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'",
            ]
        )
        if exists.stdout.strip() != "1":
            created = self._as_postgres(
                [
                    str(self.bindir / "createdb"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-U",
                    "postgres",
                    self.database,
                ]
            )
            if created.returncode != 0:
                raise LocalStackError(f"createdb failed: {created.stderr}")
        self.start_seconds = round(time.monotonic() - started, 1)
        _log(f"PostgreSQL {self.bindir.parent.name} on 127.0.0.1:{self.port} ready in {self.start_seconds} s")
        return self

    def is_running(self) -> bool:
        return self._as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "status"]).returncode == 0

    def stop(self) -> None:
        if self.data_dir.exists() and self.is_running():
            result = self._as_postgres(
                [str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"]
            )
            if result.returncode != 0:
                raise LocalStackError(f"pg_ctl stop failed: {result.stderr}")

    def tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join((self.run_dir / "postgres.log").read_text(errors="replace").splitlines()[-lines:])
        return ""

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_postgres(run_dir: Path, fast: bool = False, port: int | None = None) -> PostgresServer:
    return PostgresServer(run_dir, port, fast).start()


# --- command line ------------------------------------------------------------------------------


def _up(run_dir: Path, only: str | None, fast: bool) -> dict[str, object]:
    run_dir.mkdir(parents=True, exist_ok=True)
    state: dict[str, object] = {"run_dir": str(run_dir.resolve())}
    state_file = run_dir / "state.json"
    # Written after each server starts, so that `down` stops whatever did start if a later step fails.
    if only in (None, "kafka"):
        kafka = start_kafka(run_dir / "kafka")
        state["kafka"] = {
            "pid": kafka.pid,
            "bootstrap": kafka.bootstrap,
            "version": kafka.version,
            "start_seconds": kafka.start_seconds,
        }
        state_file.write_text(json.dumps(state, indent=2))
    if only in (None, "postgres"):
        pg = start_postgres(run_dir / "postgres", fast=fast)
        state["postgres"] = {
            "data_dir": str(pg.data_dir),
            "port": pg.port,
            "url": pg.url,
            "bindir": str(pg.bindir),
            "start_seconds": pg.start_seconds,
        }
        state_file.write_text(json.dumps(state, indent=2))
    exports = []
    if "kafka" in state:
        exports.append(f"export KAFKA_BOOTSTRAP_SERVERS={state['kafka']['bootstrap']}")  # type: ignore[index]
    if "postgres" in state:
        exports.append(f"export DATABASE_URL={state['postgres']['url']}")  # type: ignore[index]
    (run_dir / "env.sh").write_text("\n".join(exports) + "\n")
    print("\n".join(exports))
    return state


def _down(run_dir: Path) -> None:
    state_file = run_dir / "state.json"
    if not state_file.exists():
        _log(f"nothing to stop: {state_file} does not exist")
        return
    state = json.loads(state_file.read_text())
    if "kafka" in state and state["kafka"].get("pid"):
        _terminate(int(state["kafka"]["pid"]), "Kafka")
        _log("Kafka stopped")
    if "postgres" in state:
        pg = state["postgres"]
        server = PostgresServer(Path(pg["data_dir"]).parent, int(pg["port"]))
        server.stop()
        _log("PostgreSQL stopped")
    state_file.rename(run_dir / "state.stopped.json")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start Kafka and PostgreSQL")
    up.add_argument("--dir", type=Path, required=True)
    up.add_argument("--only", choices=["kafka", "postgres"])
    up.add_argument("--fast", action="store_true", help="fsync off (tests and benchmarks only)")
    down = sub.add_parser("down", help="stop what state.json lists")
    down.add_argument("--dir", type=Path, required=True)
    status = sub.add_parser("status", help="print state.json")
    status.add_argument("--dir", type=Path, required=True)
    sub.add_parser("fetch", help="fetch the Kafka jars into the cache")
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            print(ensure_kafka_jars())
        elif args.command == "up":
            try:
                _up(args.dir, args.only, args.fast)
            except BaseException:
                _down(args.dir)
                raise
        elif args.command == "down":
            _down(args.dir)
        elif args.command == "status":
            print((args.dir / "state.json").read_text() if (args.dir / "state.json").exists() else "{}")
    except LocalStackError as exc:
        _log(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
