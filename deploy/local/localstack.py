#!/usr/bin/env python3
"""A private Apache Kafka broker and PostgreSQL cluster on free 127.0.0.1 ports, without Docker.

Kafka 4.x (KRaft, one combined broker+controller node) runs from Maven Central jars that Maven copies
into ``.cache/kafka/<sha256 of kafka/pom.xml, 16 hex>/libs``; PostgreSQL from Debian's packages
(installed with apt-get when missing), as the ``postgres`` user when run as root (initdb refuses root).

Standard library only: ``make`` calls it before the project's venv exists.

    python3 deploy/local/localstack.py fetch                          # the Kafka and OIDC provider jars only
    python3 deploy/local/localstack.py up --dir DIR [--only kafka|postgres|oidc] [--fast] [--secure]
    python3 deploy/local/localstack.py status --dir DIR               # exit 0 only if all listed run
    python3 deploy/local/localstack.py down --dir DIR                 # idempotent

``up`` writes DIR/state.json (pids, ports, urls, versions, start times) and DIR/env.sh, and prints
``export KAFKA_BOOTSTRAP_SERVERS=...`` and ``export ADMIN_DATABASE_URL=...`` (the superuser URL, as
``kokunen-admin prepare`` reads it): ``eval "$(... up --dir DIR)"``.

From Python (pytest fixtures, demo, benchmarks; put this folder on sys.path):

    with start_kafka(run_dir / "kafka") as kafka, start_postgres(run_dir / "postgres", fast=True) as pg:
        kafka.bootstrap  # "127.0.0.1:PORT"
        pg.url           # "postgresql://postgres@127.0.0.1:PORT/kokunen"
        pg.stop(); pg.start()  # same port, same data: for outage tests
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import pwd
import re
import secrets
import shlex
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
POM = HERE / "kafka" / "pom.xml"
LOG4J = HERE / "kafka" / "log4j2.properties"
CACHE = REPO / ".cache" / "kafka"
MAVEN_GOAL = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies"
KAFKA_READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0
LOG_TAIL_LINES = 60
DATABASE = "kokunen"
MIN_JAVA_FOR_KAFKA_4 = 17
# Linux caps a unix socket path at 107 bytes: longer run folders get TCP only.
MAX_SOCKET_DIR = 107 - len("/.s.PGSQL.65535")


class LocalStackError(RuntimeError):
    """A server could not be fetched, started or stopped; the message says what and where to look."""


def _log(message: str) -> None:
    print(f"[localstack] {message}", file=sys.stderr, flush=True)


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"--- {path}: (missing)"
    return f"--- last {lines} lines of {path}\n" + "\n".join(text.splitlines()[-lines:])


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports on 127.0.0.1 (all sockets held open together so they differ)."""
    with contextlib.ExitStack() as stack:
        ports: list[int] = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def free_port() -> int:
    return free_ports(1)[0]


# --- processes ---------------------------------------------------------------------------------


def pid_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as gone; our own zombies are reaped here)."""
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _cmdline(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None


def _wait_for_exit(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while pid_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def terminate(pid: int, what: str, timeout_s: float = STOP_TIMEOUT_S, sig: int = signal.SIGTERM) -> None:
    """Send ``sig``, wait up to ``timeout_s`` for the exit, then SIGKILL as the last resort."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    if _wait_for_exit(pid, timeout_s):
        return
    _log(f"{what} (pid {pid}) did not stop within {timeout_s:.0f} s: SIGKILL")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if not _wait_for_exit(pid, 10):
        raise LocalStackError(f"{what} (pid {pid}) survived SIGKILL")


def _run(command: Sequence[str], what: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(list(command), capture_output=True, text=True, check=False, **kwargs)
    except OSError as exc:
        raise LocalStackError(f"{what}: cannot run `{shlex.join(command)}`: {exc}") from exc


def _apt_install(packages: list[str], why: str) -> None:
    """Debian's packages, non-interactively; only root may (this machine kind runs as root)."""
    if os.geteuid() != 0:
        raise LocalStackError(f"{why}, and only root can install it: apt-get install -y {' '.join(packages)}")
    _log(f"{why}: apt-get install {' '.join(packages)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", *packages],
    ):
        result = _run(command, "apt-get", env=env)
        if result.returncode != 0:
            raise LocalStackError(f"`{shlex.join(command)}` failed ({result.returncode}):\n{result.stderr[-3000:]}")


# --- Kafka: jars -------------------------------------------------------------------------------


def kafka_version() -> str:
    """The ``kafka.version`` property of deploy/local/kafka/pom.xml."""
    found = re.search(r"<kafka\.version>\s*([0-9][^<\s]*)\s*</kafka\.version>", POM.read_text())
    if found is None:
        raise LocalStackError(f"{POM} has no <properties><kafka.version>")
    return found.group(1)


def kafka_cache_dir() -> Path:
    return CACHE / hashlib.sha256(POM.read_bytes()).hexdigest()[:16]


def _require(tool: str, package: str, why: str) -> str:
    found = shutil.which(tool)
    if found is None:
        _apt_install([package], why)
        found = shutil.which(tool)
    if found is None:
        raise LocalStackError(f"{tool} is still missing after installing {package}")
    return found


def ensure_kafka_jars() -> Path:
    """The broker's classpath folder: fetched once with Maven, cached by the POM's hash."""
    version = kafka_version()
    return fetch_classpath(
        f"Kafka {version}", POM, kafka_cache_dir(), (f"kafka_2.13-{version}", "log4j-core-", "log4j-slf4j")
    )


def fetch_classpath(what: str, pom: Path, cache: Path, must_have: Sequence[str]) -> Path:
    """The runtime classpath of ``pom`` copied from Maven Central into ``cache``/libs, once.

    The ``complete`` marker is written only after a whole fetch; a file lock serialises concurrent
    fetches (several worktrees or test sessions starting at once).
    """
    libs = cache / "libs"
    marker = cache / "complete"
    if marker.is_file():
        return libs
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.is_file():
            return libs
        mvn = _require("mvn", "maven", f"Maven (mvn) is needed to fetch the {what} jars")
        if libs.exists():
            shutil.rmtree(libs)
        libs.mkdir()
        command = [
            mvn,
            "-B",
            "-q",
            "-f",
            str(pom),
            MAVEN_GOAL,
            "-DincludeScope=runtime",
            f"-DoutputDirectory={libs}",
        ]
        _log(f"fetching {what} jars from Maven Central into {libs}")
        started = time.monotonic()
        result = _run(command, "Maven")
        seconds = round(time.monotonic() - started, 1)
        if result.returncode != 0:
            raise LocalStackError(
                f"`{shlex.join(command)}` failed ({result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
            )
        names = sorted(p.name for p in libs.glob("*.jar"))
        for prefix in must_have:
            if not any(name.startswith(prefix) for name in names):
                raise LocalStackError(f"Maven finished but {libs} has no {prefix}*.jar: check {pom}")
        partial = cache / "complete.partial"
        partial.write_text(
            json.dumps({"what": what, "jars": len(names), "fetch_seconds": seconds, "at": _now()}) + "\n"
        )
        partial.replace(marker)
        _log(f"{len(names)} jars fetched in {seconds} s")
        return libs


def _java() -> str:
    java = _require("java", "openjdk-17-jre-headless", "Java 17+ is needed to run Kafka 4.x")
    result = _run([java, "-version"], "java")
    found = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr + result.stdout)
    if found:
        major = int(found.group(1)) if found.group(1) != "1" else int(found.group(2) or 0)
        if major < MIN_JAVA_FOR_KAFKA_4 and kafka_version().startswith("4."):
            raise LocalStackError(f"{java} is Java {major}; Kafka {kafka_version()} needs Java 17+")
    return java


# --- Kafka: a protocol probe -------------------------------------------------------------------


@dataclass(frozen=True)
class KafkaProbe:
    """What a broker answered: ApiVersions (v0) then Metadata (v4), encoded by hand."""

    api_count: int
    brokers: tuple[tuple[int, str, int], ...]
    controller_id: int
    cluster_id: str | None


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("connection closed mid-response")
        data += chunk
    return bytes(data)


def _kafka_call(sock: socket.socket, api_key: int, version: int, correlation_id: int, body: bytes) -> bytes:
    client_id = b"localstack"
    request = struct.pack(">hhih", api_key, version, correlation_id, len(client_id)) + client_id + body
    sock.sendall(struct.pack(">i", len(request)) + request)
    (size,) = struct.unpack(">i", _recv_exact(sock, 4))
    response = _recv_exact(sock, size)
    (received,) = struct.unpack_from(">i", response)
    if received != correlation_id:
        raise ConnectionError(f"correlation id {received} != {correlation_id}")
    return response[4:]


def _string(buf: bytes, at: int) -> tuple[str | None, int]:
    (length,) = struct.unpack_from(">h", buf, at)
    at += 2
    if length < 0:
        return None, at
    return buf[at : at + length].decode(), at + length


def kafka_probe(port: int, host: str = "127.0.0.1", timeout_s: float = 3.0) -> KafkaProbe | None:
    """None unless the broker answers ApiVersions without error and Metadata names its brokers."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            body = _kafka_call(sock, 18, 0, 1, b"")  # ApiVersions v0: header v0, no tagged fields
            error, api_count = struct.unpack_from(">hi", body)
            if error != 0:
                return None
            ranges = {
                struct.unpack_from(">h", body, 6 + 6 * i)[0]: struct.unpack_from(">hh", body, 8 + 6 * i)
                for i in range(api_count)
            }
            low, high = ranges.get(3, (0, -1))
            if not low <= 4 <= high:
                return None
            # Metadata v4: topics = null (all), allow_auto_topic_creation = false.
            body = _kafka_call(sock, 3, 4, 2, struct.pack(">ib", -1, 0))
            at = 4  # throttle_time_ms
            (count,) = struct.unpack_from(">i", body, at)
            at += 4
            brokers = []
            for _ in range(count):
                (node_id,) = struct.unpack_from(">i", body, at)
                broker_host, at = _string(body, at + 4)
                (broker_port,) = struct.unpack_from(">i", body, at)
                _rack, at = _string(body, at + 4)
                brokers.append((int(node_id), broker_host or "", int(broker_port)))
            cluster_id, at = _string(body, at)
            (controller_id,) = struct.unpack_from(">i", body, at)
            return KafkaProbe(api_count, tuple(brokers), int(controller_id), cluster_id)
    except (OSError, struct.error, UnicodeDecodeError):
        return None


# --- Kafka: the broker -------------------------------------------------------------------------


def new_cluster_id() -> str:
    """A KRaft cluster id (22 characters of base64url). Never one starting with "-": the storage tool's
    argument parser would take ``-t -abc…`` for an option and the format would fail now and then."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


@dataclass(frozen=True)
class KafkaSecurity:
    """The secure mode: clients connect over SASL_SSL with SCRAM-SHA-512 to a certificate signed by a CA
    made at start; the StandardAuthorizer denies whatever no ACL allows; ``admin`` (the platform) is the
    only super user. The broker's own listeners (inter-broker, controller) use SASL_PLAINTEXT with PLAIN
    and the same admin principal, since in combined mode the broker forwards admin requests to its
    controller. ``users`` are SCRAM users created when the storage is formatted (more can be added later
    through the admin API)."""

    admin_password: str = field(default_factory=lambda: secrets.token_hex(16))
    users: dict[str, str] = field(default_factory=dict)
    admin_user: str = "admin"
    mechanism: str = "SCRAM-SHA-512"


def make_tls_material(folder: Path, host: str = "127.0.0.1") -> tuple[Path, Path, str]:
    """A throwaway CA and a server certificate for ``host`` (openssl), as PEM CA file and PKCS#12 keystore.

    Returns (CA file, keystore, keystore password). Made fresh at every start: nothing secret is kept."""
    openssl = _require("openssl", "openssl", "openssl is needed to make the local broker's certificates")
    folder.mkdir(parents=True, exist_ok=True)
    password = secrets.token_hex(16)
    ca_key, ca_pem = folder / "ca.key", folder / "ca.pem"
    key, csr, pem, p12 = folder / "server.key", folder / "server.csr", folder / "server.pem", folder / "server.p12"
    ext = folder / "server.ext"
    ext.write_text(f"subjectAltName=IP:{host},DNS:localhost\nextendedKeyUsage=serverAuth\n")
    steps = [
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca_pem),
         "-days", "2", "-subj", "/CN=kokunen-local-ca"],
        [openssl, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
         "-subj", f"/CN={host}"],
        [openssl, "x509", "-req", "-in", str(csr), "-CA", str(ca_pem), "-CAkey", str(ca_key), "-CAcreateserial",
         "-out", str(pem), "-days", "2", "-extfile", str(ext)],
        [openssl, "pkcs12", "-export", "-in", str(pem), "-inkey", str(key), "-certfile", str(ca_pem),
         "-name", "broker", "-out", str(p12), "-passout", f"pass:{password}"],
    ]  # fmt: skip
    for command in steps:
        result = _run(command, "openssl")
        if result.returncode != 0:
            raise LocalStackError(
                f"`{shlex.join(command[:3])} …` failed ({result.returncode}):\n{result.stderr[-2000:]}"
            )
    for secret in (ca_key, key, p12):
        secret.chmod(0o600)
    return ca_pem, p12, password


class KafkaServer:
    """One KRaft node (broker and controller) with its config, data and logs under ``run_dir``; alone, or one
    node of a ``KafkaCluster`` (its id, the cluster's voters and replication settings)."""

    def __init__(
        self,
        run_dir: Path,
        port: int | None = None,
        controller_port: int | None = None,
        security: KafkaSecurity | None = None,
        *,
        node_id: int = 1,
        cluster: KafkaCluster | None = None,
    ) -> None:
        self.run_dir = run_dir.resolve()
        self.node_id = node_id
        self.cluster = cluster
        self._ports_fixed = port is not None
        self.port, self.controller_port = (
            (port, controller_port or free_port()) if port is not None else tuple(free_ports(2))
        )
        self.security = security
        self.internal_port = free_port() if security is not None else None
        self.ca_file: Path | None = None
        self._keystore: tuple[Path, str] | None = None
        self.version = kafka_version()
        self.pid: int | None = None
        self.start_seconds: float | None = None
        self.cluster_id: str | None = cluster.cluster_id if cluster is not None else None
        self._process: subprocess.Popen[bytes] | None = None
        self._stdout: IO[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.run_dir / "logs" / "server.log"

    @property
    def config_file(self) -> Path:
        return self.run_dir / "server.properties"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "kafka.pid"

    def _listener_properties(self) -> list[str]:
        if self.security is None:
            return [
                f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            ]
        sec = self.security
        assert self._keystore is not None
        keystore, keystore_password = self._keystore
        plain = (
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="{sec.admin_user}" password="{sec.admin_password}" '
            f'user_{sec.admin_user}="{sec.admin_password}";'
        )
        mech = sec.mechanism.lower()
        return [
            f"listeners=CLIENT://127.0.0.1:{self.port},INTERNAL://127.0.0.1:{self.internal_port},"
            f"CONTROLLER://127.0.0.1:{self.controller_port}",
            f"advertised.listeners=CLIENT://127.0.0.1:{self.port},INTERNAL://127.0.0.1:{self.internal_port}",
            "listener.security.protocol.map=CLIENT:SASL_SSL,INTERNAL:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=INTERNAL",
            "sasl.mechanism.inter.broker.protocol=PLAIN",
            "sasl.mechanism.controller.protocol=PLAIN",
            f"listener.name.client.sasl.enabled.mechanisms={sec.mechanism}",
            f"listener.name.client.{mech}.sasl.jaas.config="
            "org.apache.kafka.common.security.scram.ScramLoginModule required;",
            "listener.name.internal.sasl.enabled.mechanisms=PLAIN",
            f"listener.name.internal.plain.sasl.jaas.config={plain}",
            "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
            f"listener.name.controller.plain.sasl.jaas.config={plain}",
            "listener.name.client.ssl.keystore.type=PKCS12",
            f"listener.name.client.ssl.keystore.location={keystore}",
            f"listener.name.client.ssl.keystore.password={keystore_password}",
            f"listener.name.client.ssl.key.password={keystore_password}",
            "listener.name.client.ssl.client.auth=none",
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            f"super.users=User:{sec.admin_user}",
            "allow.everyone.if.no.acl.found=false",
        ]

    def properties(self) -> str:
        voters = self.cluster.voters if self.cluster is not None else f"{self.node_id}@127.0.0.1:{self.controller_port}"
        # A cluster replicates everything three times and acknowledges a write once two replicas have it.
        replicas, min_isr = (len(self.cluster.nodes), 2) if self.cluster is not None else (1, 1)
        return "\n".join(
            [
                "process.roles=broker,controller",
                f"node.id={self.node_id}",
                f"controller.quorum.voters={voters}",
                *self._listener_properties(),
                f"log.dirs={self.run_dir / 'data'}",
                "num.partitions=1",
                f"default.replication.factor={replicas}",
                f"min.insync.replicas={min_isr}",
                f"offsets.topic.replication.factor={replicas}",
                "offsets.topic.num.partitions=1",
                f"transaction.state.log.replication.factor={replicas}",
                f"transaction.state.log.min.isr={min_isr}",
                "transaction.state.log.num.partitions=1",
                f"share.coordinator.state.topic.replication.factor={replicas}",
                f"share.coordinator.state.topic.min.isr={min_isr}",
                "share.coordinator.state.topic.num.partitions=1",
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=false",
                "num.network.threads=2",
                "num.io.threads=2",
                "background.threads=4",
                "num.replica.fetchers=1",
                "num.recovery.threads.per.data.dir=1",
                "log.cleaner.threads=1",
                "log.cleaner.dedupe.buffer.size=16777216",
                "",
            ]
        )

    def is_running(self) -> bool:
        return self.pid is not None and pid_alive(self.pid)

    def start(self) -> KafkaServer:
        """Format (first start only), launch and wait for a real protocol answer; raise with the log tail."""
        if self.is_running():
            return self
        libs = ensure_kafka_jars()
        java = _java()
        (self.run_dir / "logs").mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        if self.security is not None and self._keystore is None:
            ca_file, keystore, password = make_tls_material(self.run_dir / "tls")
            self.ca_file, self._keystore = ca_file, (keystore, password)
        for attempt in range(3):
            self.config_file.write_text(self.properties())
            self.config_file.chmod(0o600)  # the secure mode's passwords are in it
            self._format(java, libs)
            try:
                if self._launch_and_wait(java, libs, started):
                    return self
            except BaseException:
                self.stop()
                raise
            # The process exited because a port was taken between choosing and binding it: new ports.
            if self._ports_fixed or attempt == 2:
                break
            _log(f"Kafka port {self.port} or {self.controller_port} was taken meanwhile: retrying on new ports")
            self.port, self.controller_port = free_ports(2)
            if self.security is not None:
                self.internal_port = free_port()
        raise LocalStackError(f"Kafka could not bind its ports:\n{_tail(self.log_file)}")

    def _format(self, java: str, libs: Path) -> None:
        meta = self.run_dir / "data" / "meta.properties"
        if meta.exists():
            return
        self.cluster_id = self.cluster_id or new_cluster_id()
        command = [
            java,
            "-Xmx512m",
            f"-Dkafka.logs.dir={self.run_dir / 'logs'}",
            f"-Dlog4j2.configurationFile={LOG4J}",
            "-cp",
            f"{libs}/*",
            "kafka.tools.StorageTool",
            "format",
            "-t",
            self.cluster_id,
            "-c",
            str(self.config_file),
            "--ignore-formatted",
        ]
        if self.security is not None:
            sec = self.security
            for name, password in {**sec.users, sec.admin_user: sec.admin_password}.items():
                command += ["--add-scram", f"{sec.mechanism}=[name={name},password={password}]"]
        result = _run(command, "Kafka storage format", cwd=self.run_dir)
        if result.returncode != 0:
            raise LocalStackError(
                f"`{shlex.join(command)}` failed ({result.returncode}):\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
            )

    def _launch_and_wait(self, java: str, libs: Path, started: float) -> bool:
        """True when ready; False when the process exited over a taken port; raises otherwise."""
        heap = "-Xmx512m" if self.cluster is None else "-Xmx320m"  # three of them on a small machine
        command = [
            java,
            heap.replace("mx", "ms"),
            heap,
            "-server",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:InitiatingHeapOccupancyPercent=35",
            "-XX:+ExplicitGCInvokesConcurrent",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={self.run_dir / 'logs'}",
            f"-Dlog4j2.configurationFile={LOG4J}",
            "-cp",
            f"{libs}/*",
            "kafka.Kafka",
            str(self.config_file),
        ]
        self._stdout = (self.run_dir / "logs" / "stdout.log").open("ab")
        # A session of its own: a Ctrl-C in the terminal reaches Python, which then stops Kafka in order.
        self._process = subprocess.Popen(
            command, stdout=self._stdout, stderr=subprocess.STDOUT, cwd=self.run_dir, start_new_session=True
        )
        self.pid = self._process.pid
        self.pid_file.write_text(f"{self.pid}\n")
        deadline = time.monotonic() + KAFKA_READY_TIMEOUT_S
        while time.monotonic() < deadline:
            code = self._process.poll()
            if code is not None:
                self._forget_process()
                logs = _tail(self.log_file) + "\n" + _tail(self.run_dir / "logs" / "stdout.log")
                if "Address already in use" in logs or "BindException" in logs:
                    return False
                _log(f"Kafka exited with {code} while starting:\n{logs}")
                raise LocalStackError(f"Kafka exited with {code} while starting:\n{logs}")
            if self.security is not None:
                if self._secure_ready():
                    self.start_seconds = round(time.monotonic() - started, 1)
                    _log(f"Kafka {self.version} (SASL_SSL) on {self.bootstrap} (pid {self.pid}) ready")
                    return True
                time.sleep(0.2)
                continue
            probe = kafka_probe(self.port)
            if (
                probe is not None
                and (self.node_id, "127.0.0.1", self.port) in probe.brokers
                and probe.controller_id >= 0
            ):
                self.cluster_id = probe.cluster_id
                self.start_seconds = round(time.monotonic() - started, 1)
                _log(f"Kafka {self.version} on {self.bootstrap} (pid {self.pid}) ready in {self.start_seconds} s")
                return True
            time.sleep(0.2)
        tail = _tail(self.log_file)
        _log(f"Kafka did not answer within {KAFKA_READY_TIMEOUT_S:.0f} s:\n{tail}")
        raise LocalStackError(f"Kafka on {self.bootstrap} did not answer within {KAFKA_READY_TIMEOUT_S:.0f} s:\n{tail}")

    def _secure_ready(self) -> bool:
        """The broker logged its start and its client listener completes a TLS handshake with our CA."""
        try:
            if "Kafka Server started" not in self.log_file.read_text(errors="replace"):
                return False
            context = ssl.create_default_context(cafile=str(self.ca_file))
            with (
                socket.create_connection(("127.0.0.1", self.port), timeout=3) as raw,
                context.wrap_socket(raw, server_hostname="127.0.0.1"),
            ):
                return True
        except (OSError, ssl.SSLError):
            return False

    def client_config(self, user: str | None = None, password: str | None = None) -> dict[str, str]:
        """The environment a service needs to reach this broker (``KAFKA_*`` settings, lower-cased)."""
        if self.security is None:
            return {"kafka_bootstrap_servers": self.bootstrap}
        sec = self.security
        return {
            "kafka_bootstrap_servers": self.bootstrap,
            "kafka_security_protocol": "SASL_SSL",
            "kafka_sasl_mechanism": sec.mechanism,
            "kafka_sasl_username": user or sec.admin_user,
            "kafka_sasl_password": (password or "") if user else sec.admin_password,
            "kafka_ssl_cafile": str(self.ca_file),
        }

    def _forget_process(self) -> None:
        if self._stdout is not None:
            self._stdout.close()
            self._stdout = None
        self._process = None
        self.pid = None
        self.pid_file.unlink(missing_ok=True)

    def stop(self) -> None:
        """SIGTERM (controlled shutdown), SIGKILL after 30 s; idempotent."""
        if self.pid is not None:
            if self._process is not None and self._process.poll() is None:
                self._process.terminate()
                try:
                    self._process.wait(STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    _log(f"Kafka (pid {self.pid}) did not stop within {STOP_TIMEOUT_S:.0f} s: SIGKILL")
                    self._process.kill()
                    self._process.wait(10)
            elif self._process is None:
                terminate(self.pid, "Kafka")
        self._forget_process()

    def tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return _tail(self.log_file, lines)

    def state(self) -> dict[str, object]:
        return {
            "pid": self.pid,
            "bootstrap": self.bootstrap,
            "port": self.port,
            "controller_port": self.controller_port,
            "version": self.version,
            "cluster_id": self.cluster_id,
            "security_protocol": "SASL_SSL" if self.security else "PLAINTEXT",
            "ca_file": str(self.ca_file) if self.ca_file else None,
            "start_seconds": self.start_seconds,
            "started_at": _now(),
            "run_dir": str(self.run_dir),
            "config": str(self.config_file),
            "log": str(self.log_file),
        }

    def __enter__(self) -> KafkaServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def start_kafka(run_dir: Path, port: int | None = None, security: KafkaSecurity | None = None) -> KafkaServer:
    return KafkaServer(run_dir, port, security=security).start()


class KafkaCluster:
    """``size`` KRaft nodes on loopback, each broker and controller (a quorum of all), under ``run_dir/node-N``:
    topics get replication factor 3 by default and a write is acknowledged (acks=all) once two replicas have it
    (``min.insync.replicas=2``), so one node can die without losing an acknowledged write."""

    def __init__(self, run_dir: Path, size: int = 3) -> None:
        self.run_dir = run_dir.resolve()
        self.cluster_id = new_cluster_id()
        ports = free_ports(2 * size)
        self.nodes = [
            KafkaServer(self.run_dir / f"node-{i + 1}", ports[2 * i], ports[2 * i + 1], node_id=i + 1, cluster=self)
            for i in range(size)
        ]

    @property
    def voters(self) -> str:
        return ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes)

    @property
    def bootstrap(self) -> str:
        return ",".join(n.bootstrap for n in self.nodes)

    def node(self, node_id: int) -> KafkaServer:
        return next(n for n in self.nodes if n.node_id == node_id)

    def start(self) -> KafkaCluster:
        """All nodes at once (none is ready before a quorum of controllers is up); stop all on a failure."""
        errors: list[BaseException] = []

        def start_node(node: KafkaServer) -> None:
            try:
                node.start()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=start_node, args=(n,)) for n in self.nodes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            self.stop()
            raise errors[0]
        return self

    def stop(self) -> None:
        """All nodes at once: one by one, the last would wait for a quorum that is gone before it gives up."""
        threads = [threading.Thread(target=n.stop) for n in self.nodes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def state(self) -> dict[str, object]:
        first = self.nodes[0].state()
        return {
            **first,
            "bootstrap": self.bootstrap,
            "brokers": len(self.nodes),
            "nodes": [n.state() for n in self.nodes],
        }

    def client_config(self) -> dict[str, str]:
        return {"kafka_bootstrap_servers": self.bootstrap}

    def __enter__(self) -> KafkaCluster:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


# --- PostgreSQL --------------------------------------------------------------------------------


def postgres_bindir() -> Path:
    """The newest Debian PostgreSQL installed (by listing /usr/lib/postgresql); apt-get it when none."""
    root = Path("/usr/lib/postgresql")

    def found() -> list[Path]:
        dirs = [p.parent for p in root.glob("*/bin/initdb")] if root.is_dir() else []
        return sorted(dirs, key=lambda b: [int(x) for x in re.findall(r"\d+", b.parent.name)] or [0])

    if not found():
        _apt_install(["postgresql"], "the PostgreSQL server (initdb) is not installed")
    if not found():
        raise LocalStackError("PostgreSQL installed but no /usr/lib/postgresql/*/bin/initdb found")
    return found()[-1]


class PostgresServer:
    """A private cluster (data under ``run_dir``) listening on 127.0.0.1 only, database ``kokunen``.

    ``stop()`` then ``start()`` brings the same cluster back on the same port (outage tests).
    """

    def __init__(
        self,
        run_dir: Path,
        port: int | None = None,
        fast: bool = False,
        bindir: Path | None = None,
        *,
        archive_dir: Path | None = None,
        archive_timeout_s: int = 60,
        statement_stats: bool = False,
    ) -> None:
        self.run_dir = run_dir.resolve()
        self._port_fixed = port is not None
        self.port = port or free_port()
        self.fast = fast
        self.archive_dir = archive_dir.resolve() if archive_dir is not None else None
        """Continuous WAL archiving into this folder (PostgreSQL's own ``basic_archive`` module): ADR 0013."""
        self.archive_timeout_s = archive_timeout_s
        """A WAL segment is archived at the latest this long after its first commit: the bound of the RPO."""
        self.statement_stats = statement_stats
        """Load ``pg_stat_statements`` (contrib, in Debian's server package): the benchmarks' profile of statements
        per phase. Off for tests: a server loads it only when asked."""
        self.bindir = bindir or postgres_bindir()
        self.database = DATABASE
        self.start_seconds: float | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    @property
    def admin_url(self) -> str:
        """The superuser on the maintenance database ``postgres`` (to create or drop databases)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def data_dir(self) -> Path:
        return self.run_dir / "data"

    @property
    def log_file(self) -> Path:
        return self.run_dir / "postgres.log"

    @property
    def version(self) -> str:
        with contextlib.suppress(OSError):
            return (self.data_dir / "PG_VERSION").read_text().strip()
        return self.bindir.parent.name

    @property
    def pid(self) -> int | None:
        """The postmaster's pid while it runs."""
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
            return pid if pid_alive(pid) else None
        return None

    def _as_postgres(self, command: list[str], what: str) -> subprocess.CompletedProcess[str]:
        # initdb and postgres refuse root. cwd "/": postgres cannot enter root's home.
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return _run(command, what, cwd="/")

    def _prepare_dir(self) -> None:
        for folder in (self.run_dir, self.archive_dir):
            if folder is not None:
                postgres_folder(folder)

    def _initdb(self) -> None:
        self._prepare_dir()
        for locale in ("C.UTF-8", "C"):
            command = [
                str(self.bindir / "initdb"),
                "-D",
                str(self.data_dir),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                f"--locale={locale}",
            ]
            if self.fast:
                command.append("--no-sync")
            result = self._as_postgres(command, "initdb")
            if result.returncode == 0:
                return
            output = result.stdout[-2000:] + result.stderr[-2000:]
            if locale == "C" or "locale" not in output.lower():
                raise LocalStackError(f"`{shlex.join(command)}` failed ({result.returncode}):\n{output}")
            _log(f"initdb --locale={locale} failed, retrying with --locale=C")
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def _options(self) -> str:
        options = [
            f"-p {self.port}",
            "-c listen_addresses=127.0.0.1",
            "-c max_connections=200",
            "-c shared_buffers=256MB",
        ]
        if len(str(self.run_dir)) <= MAX_SOCKET_DIR:
            options.append(f"-k {shlex.quote(str(self.run_dir))}")
        else:
            options.append("-c unix_socket_directories=''")
        if self.archive_dir is not None:
            options += [
                "-c archive_mode=on",
                "-c archive_library=basic_archive",
                f"-c basic_archive.archive_directory={shlex.quote(str(self.archive_dir))}",
                f"-c archive_timeout={self.archive_timeout_s}",
            ]
        if self.statement_stats:
            options.append("-c shared_preload_libraries=pg_stat_statements")
        if self.fast:
            # Throwaway test and benchmark clusters only: durability traded for speed.
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        return " ".join(options)

    def _psql(self, sql: str, database: str = "postgres") -> subprocess.CompletedProcess[str]:
        return self._as_postgres(
            [
                str(self.bindir / "psql"),
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-tAc",
                sql,
            ],
            "psql",
        )

    def start(self) -> PostgresServer:
        """initdb on first use, start (same port and data on later calls), create the database, wait."""
        if self.is_running():
            return self
        started = time.monotonic()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        for attempt in range(3):
            command = [
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-o",
                self._options(),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                "60",
                "start",
            ]
            result = self._as_postgres(command, "pg_ctl start")
            if result.returncode == 0:
                break
            tail = _tail(self.log_file, 20)
            taken = "could not bind" in tail or "Address already in use" in tail
            if taken and not self._port_fixed and attempt < 2:
                _log(f"PostgreSQL port {self.port} was taken meanwhile: retrying on a new port")
                self.port = free_port()
                continue
            with contextlib.suppress(LocalStackError):
                self.stop()
            raise LocalStackError(f"`{shlex.join(command)}` failed ({result.returncode}):\n{result.stderr}\n{tail}")
        self._port_fixed = True  # later start() calls come back on this port
        try:
            exists = self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'")
            if exists.returncode != 0:
                raise LocalStackError(f"PostgreSQL started but does not answer:\n{exists.stderr}")
            if exists.stdout.strip() != "1":
                created = self._psql(f'CREATE DATABASE "{self.database}"')
                if created.returncode != 0:
                    raise LocalStackError(f"CREATE DATABASE {self.database} failed:\n{created.stderr}")
        except BaseException:
            with contextlib.suppress(LocalStackError):
                self.stop()
            raise
        self.start_seconds = round(time.monotonic() - started, 1)
        _log(f"PostgreSQL {self.version} on 127.0.0.1:{self.port} (pid {self.pid}) ready in {self.start_seconds} s")
        return self

    def is_running(self) -> bool:
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        status = self._as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "status"], "pg_ctl")
        return status.returncode == 0

    def stop(self) -> None:
        """``pg_ctl -m fast stop`` with a 30 s wait, then immediate mode, then SIGKILL; idempotent."""
        if not self.is_running():
            return
        pid = self.pid
        command = [str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "30", "stop"]
        result = self._as_postgres(command, "pg_ctl stop")
        if result.returncode == 0:
            return
        _log(f"`{shlex.join(command)}` failed: {result.stderr.strip()}; trying immediate mode")
        self._as_postgres([*command[:4], "immediate", "-w", "-t", "10", "stop"], "pg_ctl stop")
        if pid is not None and pid_alive(pid):
            terminate(pid, "PostgreSQL", timeout_s=1, sig=signal.SIGKILL)

    def tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return _tail(self.log_file, lines)

    def state(self) -> dict[str, object]:
        return {
            "pid": self.pid,
            "port": self.port,
            "url": self.url,
            "admin_url": self.admin_url,
            "version": self.version,
            "fast": self.fast,
            "start_seconds": self.start_seconds,
            "started_at": _now(),
            "run_dir": str(self.run_dir),
            "data_dir": str(self.data_dir),
            "bindir": str(self.bindir),
            "log": str(self.log_file),
        }

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def start_postgres(
    run_dir: Path, fast: bool = False, port: int | None = None, *, statement_stats: bool = False
) -> PostgresServer:
    return PostgresServer(run_dir, port, fast, statement_stats=statement_stats).start()


def postgres_folder(folder: Path) -> Path:
    """``folder`` created and, as root, owned by the postgres user (mode 0700), its parents traversable."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return folder
    user = pwd.getpwnam("postgres")
    # postgres must reach the folder: open the parents for traversal (x) only, never for reading.
    for parent in folder.parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            _log(f"chmod o+x {parent} so that the postgres user can reach {folder}")
            os.chmod(parent, mode | 0o001)
    os.chown(folder, user.pw_uid, user.pw_gid)
    os.chmod(folder, 0o700)
    return folder


# --- backups (ADR 0013): base backups with pg_basebackup, WAL archived by basic_archive -----------------------


def base_backup(server: PostgresServer, target: Path) -> float:
    """A base backup of a running cluster into ``target`` (plain format, its WAL streamed alongside, checkpoint
    now), verified against its manifest with pg_verifybackup; returns the seconds it took."""
    started = time.monotonic()
    postgres_folder(target.parent)
    backup = [str(server.bindir / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(server.port), "-U", "postgres"]
    for command, what in (
        ([*backup, "-D", str(target), "-X", "stream", "-c", "fast", "--no-password"], "pg_basebackup"),
        ([str(server.bindir / "pg_verifybackup"), "-q", str(target)], "pg_verifybackup"),
    ):
        result = server._as_postgres(command, what)
        if result.returncode != 0:
            raise LocalStackError(f"`{shlex.join(command)}` failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return round(time.monotonic() - started, 2)


def archiver_status(server: PostgresServer) -> dict[str, str]:
    """pg_stat_archiver: how many WAL segments were archived, the last one and when, failures."""
    result = server._psql(
        "SELECT archived_count, coalesce(last_archived_wal, ''), coalesce(last_archived_time::text, ''), "
        "failed_count, coalesce(last_failed_wal, '') FROM pg_stat_archiver"
    )
    if result.returncode != 0:
        raise LocalStackError(f"pg_stat_archiver: {result.stderr}")
    names = ("archived_count", "last_archived_wal", "last_archived_time", "failed_count", "last_failed_wal")
    return dict(zip(names, result.stdout.strip().split("|"), strict=True))


def restore_postgres(backup: Path, archive: Path, run_dir: Path, target_time: str | None) -> PostgresServer:
    """A new cluster under ``run_dir`` from a base backup, recovered from the WAL archive up to ``target_time``
    (``None``: all the archive holds) and promoted; it archives its own new timeline into the same archive."""
    server = PostgresServer(run_dir, archive_dir=archive)
    server._prepare_dir()
    copied = server._as_postgres(["cp", "-a", str(backup), str(server.data_dir)], "cp")
    if copied.returncode != 0:
        raise LocalStackError(f"copying the base backup {backup} failed:\n{copied.stderr}")
    settings = [f'restore_command = \'cp "{archive}/%f" "%p"\'', "recovery_target_action = 'promote'"]
    if target_time is not None:
        settings.append(f"recovery_target_time = '{target_time}'")
    auto_conf = server.data_dir / "postgresql.auto.conf"
    with auto_conf.open("a") as conf:
        conf.write("".join(f"{line}\n" for line in settings))
    signal_file = server.data_dir / "recovery.signal"
    signal_file.touch()
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        for path in (auto_conf, signal_file):
            os.chown(path, user.pw_uid, user.pw_gid)
    server.start()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        state = server._psql("SELECT pg_is_in_recovery()")
        if state.returncode == 0 and state.stdout.strip() == "f":
            return server
        time.sleep(0.2)
    raise LocalStackError(f"the restored cluster did not finish recovery within 300 s:\n{server.tail()}")


# --- command line ------------------------------------------------------------------------------


# --- OpenID Connect provider (for the counter's sign-in) --------------------------------------

OIDC_POM = HERE / "oidc" / "pom.xml"
OIDC_CACHE = REPO / ".cache" / "oidc"
OIDC_ISSUER_ID = "kokunen"
OIDC_READY_TIMEOUT_S = 120.0
OIDC_TOKEN_EXPIRY_S = 3600

# One demo staff member per role of the counter (counter/domain/staff.py). The provider's sign-in page offers
# them; the claims each carries (roles, 部署, name) are what the city's IdP would put in the ID token.
DEMO_STAFF: tuple[dict[str, Any], ...] = (
    {"username": "etsuran", "name": "閲覧 花子", "department": "国保年金課 国民年金係", "roles": ["viewer"]},
    {"username": "madoguchi", "name": "窓口 一郎", "department": "北区役所 保険年金課", "roles": ["clerk"]},
    {"username": "kakunin", "name": "確認 次郎", "department": "国保年金課 国民年金係", "roles": ["supervisor"]},
    {
        "username": "shunin",
        "name": "主任 六子",
        "department": "国保年金課 国民年金係",
        "roles": ["clerk", "supervisor"],
    },
    {"username": "bango", "name": "番号 三郎", "department": "国保年金課 資格係", "roles": ["my_number_handler"]},
    {"username": "kansa", "name": "監査 四郎", "department": "総務局 情報公開課", "roles": ["auditor"]},
    {"username": "unyou", "name": "運用 五郎", "department": "情報システム課", "roles": ["operator"]},
    {"username": "mukengen", "name": "権限 なし", "department": "国保年金課", "roles": []},
)


def oidc_version() -> str:
    found = re.search(r"<mock-oauth2-server\.version>\s*([0-9][^<\s]*)\s*<", OIDC_POM.read_text())
    if found is None:
        raise LocalStackError(f"{OIDC_POM} has no <properties><mock-oauth2-server.version>")
    return found.group(1)


def ensure_oidc_jars() -> Path:
    """mock-oauth2-server and its dependencies from Maven Central, cached by the POM's hash."""
    cache = OIDC_CACHE / hashlib.sha256(OIDC_POM.read_bytes()).hexdigest()[:16]
    return fetch_classpath(f"mock-oauth2-server {oidc_version()}", OIDC_POM, cache, ("mock-oauth2-server-",))


def oidc_login_page(staff: Sequence[dict[str, Any]] = DEMO_STAFF) -> str:
    """The provider's interactive sign-in page: one button per demo staff member, each posting the username and
    the claims of the ID token (the provider adds them to the token it issues)."""
    import html

    rows = []
    for person in staff:
        claims = {"name": person["name"], "department": person["department"], "roles": person["roles"]}
        roles = "・".join(person["roles"]) or "役割なし"
        rows.append(
            f"""<form method="post"><input type="hidden" name="username" value="{html.escape(person["username"])}">
<input type="hidden" name="claims" value="{html.escape(json.dumps(claims, ensure_ascii=False))}">
<button type="submit" id="user-{html.escape(person["username"])}">{html.escape(person["name"])}
<small>{html.escape(person["username"])} ／ {html.escape(person["department"])} ／ {html.escape(roles)}</small>
</button></form>"""
        )
    return f"""<!doctype html><html lang="ja"><head><meta charset="utf-8">
<title>サインイン (開発用認証サーバー)</title>
<style>body{{font-family:"IPAPGothic",sans-serif;max-width:40rem;margin:2rem auto;color:#1a1a1a}}
button{{display:block;width:100%;text-align:left;margin:0 0 .75rem;padding:.75rem 1rem;font:inherit;font-weight:bold;
border:2px solid #0017c1;border-radius:.5rem;background:#fff;color:#0017c1;cursor:pointer}}
button small{{display:block;font-weight:normal;color:#414141}}
button:focus{{outline:4px solid #000;box-shadow:0 0 0 2px #ffd43d}}
</style></head><body><h1>サインイン</h1>
<p>開発・試験用の認証サーバーです (本番は市の認証基盤)。職員を選んでください。</p>
{"".join(rows)}</body></html>"""


class OidcProvider:
    """mock-oauth2-server (no.nav.security) run with java: a real OpenID Connect provider with discovery, JWKS,
    authorization code + PKCE, token and end-session endpoints, and an interactive sign-in page. Issuer:
    ``http://127.0.0.1:<port>/kokunen``. Local runs and tests only."""

    def __init__(self, run_dir: Path, port: int | None = None) -> None:
        self.run_dir = run_dir.resolve()
        self.port = port or free_port()
        self.pid: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._stdout: IO[bytes] | None = None
        self.start_seconds: float | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}/{OIDC_ISSUER_ID}"

    @property
    def log_file(self) -> Path:
        return self.run_dir / "oidc.log"

    def config(self) -> dict[str, Any]:
        login_page = self.run_dir / "login.html"
        return {
            "interactiveLogin": True,
            "loginPagePath": str(login_page),
            "tokenCallbacks": [
                {
                    "issuerId": OIDC_ISSUER_ID,
                    "tokenExpiry": OIDC_TOKEN_EXPIRY_S,
                    # The audience is the client that asked (the counter checks it is itself).
                    "requestMappings": [{"requestParam": "client_id", "match": "*", "claims": {"acr": "Level3"}}],
                }
            ],
        }

    def start(self) -> OidcProvider:
        libs = ensure_oidc_jars()
        java = _java()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "login.html").write_text(oidc_login_page())
        started = time.monotonic()
        env = {**os.environ, "SERVER_PORT": str(self.port), "JSON_CONFIG": json.dumps(self.config())}
        command = [java, "-Xms64m", "-Xmx192m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", f"{libs}/*",
                   "no.nav.security.mock.oauth2.StandaloneMockOAuth2ServerKt"]  # fmt: skip
        self._stdout = self.log_file.open("ab")
        self._process = subprocess.Popen(
            command, stdout=self._stdout, stderr=subprocess.STDOUT, cwd=self.run_dir, env=env, start_new_session=True
        )
        self.pid = self._process.pid
        (self.run_dir / "oidc.pid").write_text(f"{self.pid}\n")
        deadline = time.monotonic() + OIDC_READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self.stop()
                raise LocalStackError(f"the OIDC provider exited while starting:\n{_tail(self.log_file)}")
            if self.ready():
                self.start_seconds = round(time.monotonic() - started, 1)
                _log(f"OIDC provider on {self.issuer} (pid {self.pid}) ready in {self.start_seconds} s")
                return self
            time.sleep(0.5)
        self.stop()
        raise LocalStackError(f"the OIDC provider did not answer within {OIDC_READY_TIMEOUT_S:.0f} s")

    def ready(self) -> bool:
        import urllib.request

        try:
            url = f"{self.issuer}/.well-known/openid-configuration"  # http://127.0.0.1 only
            with urllib.request.urlopen(url, timeout=3) as answer:  # noqa: S310
                return bool(json.loads(answer.read()).get("issuer") == self.issuer)
        except (OSError, ValueError):
            return False

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
        elif self._process is None and self.pid is not None:
            terminate(self.pid, "OIDC provider")
        if self._stdout is not None:
            self._stdout.close()
            self._stdout = None
        self._process = None
        self.pid = None
        (self.run_dir / "oidc.pid").unlink(missing_ok=True)

    def state(self) -> dict[str, object]:
        return {"pid": self.pid, "port": self.port, "issuer": self.issuer, "version": oidc_version(),
                "start_seconds": self.start_seconds, "log": str(self.log_file)}  # fmt: skip

    def __enter__(self) -> OidcProvider:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def start_oidc(run_dir: Path, port: int | None = None) -> OidcProvider:
    return OidcProvider(run_dir, port).start()


def _read_state(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "state.json"
    if not path.exists():
        return {}
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise LocalStackError(f"{path} is unreadable: {exc}") from exc
    return state if isinstance(state, dict) else {}


def _write_state(run_dir: Path, state: dict[str, Any]) -> None:
    path = run_dir / "state.json"
    partial = run_dir / "state.json.partial"
    partial.write_text(json.dumps(state, indent=2) + "\n")
    partial.replace(path)


def _kafka_pid(run_dir: Path, state: dict[str, Any]) -> int | None:
    """The broker's pid from state.json, else from the pid file a start that died left behind."""
    pid = (state.get("kafka") or {}).get("pid")
    if pid is None:
        with contextlib.suppress(OSError, ValueError):
            pid = int((run_dir / "kafka" / "kafka.pid").read_text())
    if not isinstance(pid, int) or not pid_alive(pid):
        return None
    cmdline = _cmdline(pid)
    if cmdline is not None and ("kafka.Kafka" not in cmdline or str(run_dir.resolve()) not in cmdline):
        _log(f"pid {pid} is no longer this Kafka (pid reused?): leaving it alone")
        return None
    return pid


def _postgres(run_dir: Path, state: dict[str, Any]) -> PostgresServer | None:
    entry = state.get("postgres") or {}
    folder = Path(entry["run_dir"]) if "run_dir" in entry else run_dir / "postgres"
    if not (folder / "data" / "PG_VERSION").exists():
        return None
    bindir = Path(entry["bindir"]) if "bindir" in entry else None
    if bindir is None or not (bindir / "pg_ctl").exists():
        bindir = postgres_bindir()
    return PostgresServer(folder, int(entry.get("port", 0)) or None, bool(entry.get("fast")), bindir)


def _status(run_dir: Path) -> tuple[dict[str, Any], bool]:
    state = _read_state(run_dir)
    listed = False
    all_up = True
    if "kafka" in state:
        listed = True
        pid = _kafka_pid(run_dir, state)
        port = int(state["kafka"].get("port", 0))
        if state["kafka"].get("security_protocol") == "SASL_SSL":
            # The unauthenticated probe cannot speak SASL_SSL: a listening port stands for it.
            state["kafka"]["running"] = pid is not None and port > 0 and _port_open(port)
        else:
            state["kafka"]["running"] = pid is not None and port > 0 and kafka_probe(port) is not None
        all_up &= bool(state["kafka"]["running"])
    if "postgres" in state:
        listed = True
        pg = _postgres(run_dir, state)
        state["postgres"]["running"] = pg is not None and pg.is_running()
        all_up &= bool(state["postgres"]["running"])
    return state, listed and all_up


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def up(
    run_dir: Path,
    only: str | None = None,
    fast: bool = False,
    secure: bool = False,
    with_oidc: bool = False,
    brokers: int = 1,
) -> dict[str, Any]:
    """Start what is asked, write state.json (after each server) and env.sh; stop everything on failure."""
    run_dir = run_dir.resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    state, _ = _status(run_dir)
    running = [name for name in ("kafka", "postgres") if state.get(name, {}).get("running")]
    if running:
        raise LocalStackError(f"{' and '.join(running)} already running from {run_dir}: `down --dir {run_dir}` first")
    state = {"run_dir": str(run_dir), "started_at": _now()}
    client: dict[str, str] = {}
    try:
        if only in (None, "kafka") and brokers > 1:
            if secure:
                raise LocalStackError("--secure is for one broker only")
            cluster = KafkaCluster(run_dir / "kafka", brokers).start()
            state["kafka"] = cluster.state()
            client = cluster.client_config()
            _write_state(run_dir, state)
        elif only in (None, "kafka"):
            kafka = start_kafka(run_dir / "kafka", security=KafkaSecurity() if secure else None)
            state["kafka"] = kafka.state()
            client = kafka.client_config()
            _write_state(run_dir, state)
        if only in (None, "postgres"):
            pg = start_postgres(run_dir / "postgres", fast=fast)
            state["postgres"] = pg.state()
            _write_state(run_dir, state)
        if only == "oidc" or (with_oidc and only is None):  # the counter's sign-in (make up)
            state["oidc"] = start_oidc(run_dir / "oidc").state()
            _write_state(run_dir, state)
    except BaseException:
        _write_state(run_dir, state)
        down(run_dir)
        raise
    exports = []
    if "kafka" in state:
        # The secure mode adds SASL_SSL settings (the platform's super user: apply the ACLs with it).
        exports += [f"export {name.upper()}={shlex.quote(value)}" for name, value in client.items()]
    if "postgres" in state:
        exports.append(f"export ADMIN_DATABASE_URL={shlex.quote(str(state['postgres']['url']))}")
    if "oidc" in state:
        exports.append(f"export OIDC_ISSUER_URL={shlex.quote(str(state['oidc']['issuer']))}")
    env_file = run_dir / "env.sh"
    env_file.touch(mode=0o600)
    env_file.write_text("\n".join(exports) + "\n")
    print("\n".join(exports), flush=True)
    return state


def down(run_dir: Path) -> None:
    """Stop whatever state.json (or a half-finished start's pid files) lists; idempotent."""
    run_dir = run_dir.resolve()
    state = _read_state(run_dir)
    nodes = [
        pid
        for node in (state.get("kafka") or {}).get("nodes") or []  # a cluster: every node, all at once
        if isinstance(pid := node.get("pid"), int) and pid_alive(pid) and "kafka.Kafka" in (_cmdline(pid) or "")
    ]
    for pid in nodes:
        os.kill(pid, signal.SIGTERM)
    for pid in nodes:
        terminate(pid, "Kafka")
        _log(f"Kafka node (pid {pid}) stopped")
    pid = _kafka_pid(run_dir, state)
    if pid is not None:
        terminate(pid, "Kafka")
        (run_dir / "kafka" / "kafka.pid").unlink(missing_ok=True)
        _log(f"Kafka (pid {pid}) stopped")
    pg = _postgres(run_dir, state)
    if pg is not None and pg.is_running():
        pg.stop()
        _log(f"PostgreSQL on port {pg.port} stopped")
    oidc_pid = (state.get("oidc") or {}).get("pid")
    if isinstance(oidc_pid, int) and pid_alive(oidc_pid) and "mock.oauth2" in (_cmdline(oidc_pid) or ""):
        terminate(oidc_pid, "OIDC provider")
        _log(f"OIDC provider (pid {oidc_pid}) stopped")
    if state:
        for name in ("kafka", "postgres", "oidc"):
            if name in state:
                state[name]["pid"] = None
        state["stopped_at"] = _now()
        _write_state(run_dir, state)
    (run_dir / "env.sh").unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    up_cmd = sub.add_parser("up", help="start Kafka and PostgreSQL; print export lines")
    up_cmd.add_argument("--dir", type=Path, required=True, help="run folder: data, logs, state.json, env.sh")
    up_cmd.add_argument("--only", choices=["kafka", "postgres", "oidc"])
    up_cmd.add_argument("--fast", action="store_true", help="PostgreSQL fsync off (tests and benchmarks only)")
    up_cmd.add_argument(
        "--brokers", type=int, default=1, help="3: a KRaft cluster (replication factor 3, min.insync.replicas 2)"
    )
    up_cmd.add_argument(
        "--secure", action="store_true", help="Kafka with SASL_SSL (SCRAM-SHA-512), StandardAuthorizer, a throwaway CA"
    )
    down_cmd = sub.add_parser("down", help="stop what state.json lists (idempotent)")
    down_cmd.add_argument("--dir", type=Path, required=True)
    status_cmd = sub.add_parser("status", help="print state.json with liveness; exit 3 unless all run")
    status_cmd.add_argument("--dir", type=Path, required=True)
    sub.add_parser("fetch", help="fetch the Kafka and OIDC provider jars into the cache and print the folders")
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            started = time.monotonic()
            libs = ensure_kafka_jars()
            oidc_libs = ensure_oidc_jars()
            _log(f"Kafka {kafka_version()} and OIDC provider classpaths ready in {time.monotonic() - started:.1f} s")
            print(libs)
            print(oidc_libs)
        elif args.command == "up":
            up(args.dir, args.only, args.fast, args.secure, brokers=args.brokers)
        elif args.command == "down":
            down(args.dir)
        elif args.command == "status":
            state, all_up = _status(args.dir.resolve())
            print(json.dumps(state, indent=2))
            return 0 if all_up else 3
    except LocalStackError as exc:
        _log(f"error: {exc}")
        return 1
    except KeyboardInterrupt:
        _log("interrupted")
        return 130
    except OSError as exc:
        _log(f"error: {args.command} failed: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
