"""The benchmark harness: scenarios measure a service beside a raw baseline taken in the same run,
on the same servers, with the same data, and report the ratio. Figures, not pass/fail."""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer
from kokunen_testing.platform import Platform


@dataclass
class Figure:
    scenario: str
    what: str
    count: int
    seconds: float
    baseline: str | None = None
    baseline_seconds: float | None = None
    rss_mb: float | None = None
    target: str | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    @property
    def baseline_rate(self) -> float | None:
        if self.baseline_seconds is None:
            return None
        return self.count / self.baseline_seconds if self.baseline_seconds else 0.0

    @property
    def ratio(self) -> float | None:
        base = self.baseline_rate
        return None if not base else self.rate / base


@dataclass
class BenchContext:
    platform: Platform
    workdir: Path
    scale: float

    def scaled(self, full: int) -> int:
        return max(1, int(full * self.scale))

    async def db(self, service: str) -> asyncpg.Connection:
        return await self.platform.connect_as(service)


Scenario = Callable[[BenchContext], Awaitable[list[Figure]]]
SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str) -> Callable[[Scenario], Scenario]:
    def register(fn: Scenario) -> Scenario:
        SCENARIOS[name] = fn
        return fn

    return register


class ServiceProcess:
    """A service run as its own process (``python -m <service> <args>``), so that its peak RSS is its own."""

    def __init__(self, ctx: BenchContext, service: str, *args: str, env: dict[str, str] | None = None) -> None:
        self.ctx = ctx
        self.service = service
        self.args = args or ("run",)
        self.env = {**os.environ, **ctx.platform.service_env(service), "LOG_LEVEL": "WARNING", **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None
        self.max_rss_mb: float | None = None
        self.log = ctx.workdir / f"{service}-{'-'.join(Path(a).name for a in self.args)}.log"  # args may be paths

    def start(self) -> ServiceProcess:
        # BENCH_PROFILE=1: the service runs under cProfile, its profile written beside its log when it stops.
        profile = (
            ["-m", "cProfile", "-o", str(self.log.with_suffix(".prof"))] if os.environ.get("BENCH_PROFILE") else []
        )
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, *profile, "-m", self.service, *self.args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self

    def finish(self, *, stop: bool = True, timeout_s: float = 600) -> int:
        """Stop (SIGTERM) or wait for the process; records its peak resident set size."""
        assert self.process is not None
        # The process's own high-water mark (VmHWM), read while it lives: wait4's ru_maxrss also counts the
        # pages of this (large) benchmark process that the child had between fork and exec.
        peak_kb = self._tree_hwm_kb()
        if stop:
            self.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while True:
            peak_kb = max(peak_kb, self._tree_hwm_kb())
            pid, status, usage = os.wait4(self.process.pid, os.WNOHANG)
            if pid:
                self.max_rss_mb = (peak_kb or usage.ru_maxrss) / 1024  # kB on Linux
                self.process.returncode = os.waitstatus_to_exitcode(status)
                return self.process.returncode
            if time.monotonic() > deadline:
                self.process.kill()
            time.sleep(0.05)

    def cpu_seconds(self, *, children: bool = True) -> float:
        """CPU time (user + system) the process and (unless ``children`` is off) its child processes — a service's
        workers — have used so far: a figure the machine's other load does not inflate the way it inflates
        latencies."""
        assert self.process is not None
        return tree_cpu_seconds(self.process.pid) if children else _cpu_seconds(self.process.pid)

    def _tree_hwm_kb(self) -> int:
        """The peak resident set of the process and its children, each process's own high-water mark summed."""
        assert self.process is not None
        return sum(_vm_hwm_kb(pid) for pid in _process_tree(self.process.pid))


def tree_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its descendants, those that ended included (a living process's
    reaped children's time is in its own record: a server's backends that disconnected are still counted)."""
    return sum(_cpu_seconds(p, reaped=True) for p in _process_tree(pid))


def _process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants, as /proc lists them now."""
    tree, i = [pid], 0
    while i < len(tree):
        try:
            children = Path(f"/proc/{tree[i]}/task/{tree[i]}/children").read_text().split()
        except OSError:
            children = []
        tree += [int(c) for c in children]
        i += 1
    return tree


def _cpu_seconds(pid: int, *, reaped: bool = False) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if reaped:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime: children that ended and were waited for
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> tuple[float, float]:
    """The whole machine's CPU time so far, (busy, idle), over every core (``/proc/stat``): what the processes a
    benchmark follows did not use went to other processes (other engineers' suites) or stayed idle."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (values + [0] * 8)[:8]
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq + steal) / tick, (idle + iowait) / tick


def listening_pid(port: int) -> int | None:
    """The pid of the process listening on a local TCP port (a broker this machine runs), else None."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # 0A: LISTEN
                inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    return int(proc.name)
        except OSError:
            continue
    return None


def _vm_hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


@dataclass
class CpuSnapshot:
    totals: dict[str, float]
    backends: dict[int, tuple[str, float]]
    """PostgreSQL's client backends living now: pid → (whose, CPU seconds)."""


class CpuLedger:
    """Where a run's CPU goes on the whole machine: each service process (its workers included), the Kafka broker,
    PostgreSQL (all its processes; its client backends also by role), this benchmark process (publishing and
    polling for results), every other process (other suites on a shared machine) and what stayed idle. Servers
    elsewhere (a container, a remote host) are not counted and say so (``None``)."""

    def __init__(
        self,
        ctx: BenchContext,
        services: dict[str, ServiceProcess],
        kafka_pid: int | None,
        postgres_pid: int | None,
        roles: dict[str, str],
    ) -> None:
        self.ctx = ctx
        self.services = services
        self.kafka_pid = kafka_pid
        self.postgres_pid = postgres_pid
        self.roles = roles

    @classmethod
    async def open(cls, ctx: BenchContext, services: dict[str, ServiceProcess], roles: dict[str, str]) -> CpuLedger:
        """``roles``: database role → whose (a service's name); the backends of other roles are ``other``."""
        port = int(ctx.platform.bootstrap.split(",")[0].rsplit(":", 1)[1])
        return cls(ctx, services, listening_pid(port), await database_pid(ctx), roles)

    async def snapshot(self) -> CpuSnapshot:
        busy, idle = machine_cpu_seconds()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        totals = {f"service:{name}": p.cpu_seconds() for name, p in self.services.items() if p.process}
        totals |= {"bench driver": usage.ru_utime + usage.ru_stime, "machine busy": busy, "machine idle": idle}
        if self.kafka_pid:
            totals["kafka"] = tree_cpu_seconds(self.kafka_pid)
        backends: dict[int, tuple[str, float]] = {}
        if self.postgres_pid:
            totals["postgresql"] = tree_cpu_seconds(self.postgres_pid)
            admin = await self.ctx.platform.admin()
            try:
                rows = await admin.fetch(
                    "SELECT pid, usename, application_name FROM pg_stat_activity WHERE backend_type = 'client backend'"
                )
            finally:
                await admin.close()
            for row in rows:
                whose = "bench driver" if row["application_name"] == "bench" else self.roles.get(row["usename"])
                backends[row["pid"]] = (whose or "other", _cpu_seconds(row["pid"]))
        return CpuSnapshot(totals, backends)

    @staticmethod
    def per_event(before: CpuSnapshot, after: CpuSnapshot, count: int) -> dict[str, float | None]:
        """CPU milliseconds per event between two snapshots, by process; ``other processes`` is the machine's
        busy time that none of them used, ``idle`` what no process used (both cores)."""
        ms: dict[str, float | None] = {}
        for name, seconds in after.totals.items():
            if name in before.totals and not name.startswith("machine"):
                ms[name] = (seconds - before.totals[name]) * 1000 / count
        by_role: dict[str, float] = {}
        for pid, (whose, seconds) in after.backends.items():
            start = before.backends.get(pid, (whose, 0.0))[1]
            by_role[whose] = by_role.get(whose, 0.0) + seconds - start
        for whose, seconds in sorted(by_role.items()):
            ms[f"postgresql:{whose}"] = seconds * 1000 / count
        busy = (after.totals["machine busy"] - before.totals["machine busy"]) * 1000 / count
        followed = sum(v or 0.0 for k, v in ms.items() if ":" not in k or k.startswith("service:"))
        ms["other processes"] = max(0.0, busy - followed)
        ms["idle"] = (after.totals["machine idle"] - before.totals["machine idle"]) * 1000 / count
        ms.setdefault("kafka", None)
        ms.setdefault("postgresql", None)
        return ms

    @staticmethod
    def describe(ms: dict[str, float | None]) -> str:
        def f(name: str) -> str:
            value = ms.get(name)
            return "not counted" if value is None else f"{value:.2f}"

        def part(prefix: str) -> str:
            return ", ".join(f"{k.split(':', 1)[1]} {v:.2f}" for k, v in ms.items() if k.startswith(prefix) and v)

        services, backends = part("service:"), part("postgresql:")
        return (
            f"services {services} | Kafka {f('kafka')} | PostgreSQL {f('postgresql')} ({backends}) | "
            f"bench driver {f('bench driver')} | other processes {f('other processes')} | idle {f('idle')}"
        )


async def database_pid(ctx: BenchContext) -> int | None:
    """The PostgreSQL server's pid when it runs on this machine (its backends are its children), else None."""
    admin = await ctx.platform.admin()
    try:
        directory = await admin.fetchval("SHOW data_directory")
    finally:
        await admin.close()
    try:
        return int((Path(directory) / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None  # elsewhere (a container, a remote server): its CPU is not counted


async def wait_until(
    check: Callable[[], Awaitable[bool]], *, timeout_s: float = 1800, interval_s: float = 0.25
) -> float:
    """Seconds until ``check`` holds."""
    started = time.perf_counter()
    while not await check():
        if time.perf_counter() - started > timeout_s:
            raise TimeoutError(f"benchmark condition not met within {timeout_s} s")
        await asyncio.sleep(interval_s)
    return time.perf_counter() - started


async def raw_consume(bootstrap: str, topic: str, count: int, *, group: str) -> float:
    """Baseline: seconds for a plain aiokafka consumer group to read ``count`` records from earliest."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=500,
    )
    started = time.perf_counter()
    await consumer.start()
    seen = 0
    try:
        while seen < count:
            batch = await consumer.getmany(timeout_ms=1000, max_records=500)
            for records in batch.values():
                seen += len(records)
            await consumer.commit()
    finally:
        await consumer.stop()
    return time.perf_counter() - started


def peak_rss_of_this_process_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class StatementProfile:
    """PostgreSQL's own account of a phase: the statements that took its time (``pg_stat_statements``, reset at
    the start of each phase; the benchmark's PostgreSQL loads it) and what the phase did to the services' tables
    (rows written, HOT updates, dead tuples left, autovacuum runs, sizes, index scans — ``pg_stat_user_tables``
    and ``pg_stat_user_indexes`` taken before and after, since resetting them would blind autovacuum).
    ``None`` in the report where the server does not load the module (a container, a remote server)."""

    TOP = 12

    def __init__(self, ctx: BenchContext, schemas: dict[str, str]) -> None:
        self.ctx = ctx
        self.schemas = schemas
        """schema → whose (a service's name)."""
        self.statements = False
        self._tables: dict[str, dict[str, Any]] = {}

    @classmethod
    async def open(cls, ctx: BenchContext, schemas: dict[str, str]) -> StatementProfile:
        profile = cls(ctx, schemas)
        admin = await ctx.platform.admin()
        try:
            loaded = await admin.fetchval(
                "SELECT 'pg_stat_statements' = ANY(string_to_array(current_setting('shared_preload_libraries'), ','))"
            )
            if loaded:
                await admin.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                profile.statements = True
        finally:
            await admin.close()
        return profile

    async def start(self) -> None:
        admin = await self.ctx.platform.admin()
        try:
            if self.statements:
                await admin.execute("SELECT pg_stat_statements_reset()")
            await admin.execute("SELECT pg_stat_clear_snapshot()")
            self._tables = await self._table_counters(admin)
        finally:
            await admin.close()

    async def finish(self, count: int) -> dict[str, Any]:
        """The phase's statements (top ``TOP`` by total time: calls and ms per event, mean ms, rows and buffers per
        call) and tables (rows inserted, updated — HOT of them —, deleted per event, dead tuples at the end,
        autovacuum runs, size; per index its scans and size), for ``count`` events."""
        admin = await self.ctx.platform.admin()
        try:
            statements = await self._statements(admin, count) if self.statements else None
            await admin.execute("SELECT pg_stat_clear_snapshot()")
            after = await self._table_counters(admin)
        finally:
            await admin.close()
        tables: dict[str, Any] = {}
        for name, now in after.items():
            then = self._tables.get(name, {})
            delta = {k: now[k] - then.get(k, 0) for k in ("ins", "upd", "hot", "del", "autovacuum", "autoanalyze")}
            if not any(delta[k] for k in ("ins", "upd", "del")):
                continue
            tables[name] = {
                "inserted_per_event": round(delta["ins"] / count, 3),
                "updated_per_event": round(delta["upd"] / count, 3),
                "hot_updated_per_event": round(delta["hot"] / count, 3),
                "deleted_per_event": round(delta["del"] / count, 3),
                "live": now["live"],
                "dead": now["dead"],
                "autovacuum_runs": delta["autovacuum"],
                "autoanalyze_runs": delta["autoanalyze"],
                "size_mb": round(now["bytes"] / 2**20, 1),
                "indexes": {
                    index: {
                        "scans": scans - then.get("indexes", {}).get(index, (0, 0))[0],
                        "size_mb": round(size / 2**20, 1),
                    }
                    for index, (scans, size) in now["indexes"].items()
                },
            }
        return {"statements": statements, "tables": tables}

    async def _statements(self, admin: asyncpg.Connection, count: int) -> dict[str, Any]:
        rows = await admin.fetch(
            """SELECT r.rolname AS role, s.query, s.calls, s.total_exec_time AS ms, s.rows,
                      s.shared_blks_hit + s.shared_blks_read AS blocks, s.wal_bytes
               FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid
               WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
               ORDER BY s.total_exec_time DESC"""
        )
        whose = {f"{schema}_app": service for schema, service in self.schemas.items()}
        by_role: dict[str, float] = {}
        for row in rows:
            role = whose.get(row["role"], "other")
            by_role[role] = by_role.get(role, 0.0) + row["ms"]

        def entry(row: asyncpg.Record) -> dict[str, Any]:
            calls = row["calls"]
            return {
                "service": whose.get(row["role"], row["role"]),
                "query": " ".join(row["query"].split())[:200],
                "calls_per_event": round(calls / count, 3),
                "exec_ms_per_event": round(row["ms"] / count, 4),
                "mean_ms": round(row["ms"] / calls, 4) if calls else None,
                "rows_per_call": round(row["rows"] / calls, 1) if calls else None,
                "blocks_per_call": round(row["blocks"] / calls, 1) if calls else None,
                "wal_kb_per_event": round(float(row["wal_bytes"]) / 1024 / count, 2),
            }

        return {
            "exec_ms_per_event_by_service": {k: round(v / count, 4) for k, v in sorted(by_role.items())},
            "calls_per_event": round(sum(r["calls"] for r in rows) / count, 2),
            "top": [entry(row) for row in rows[: self.TOP]],
            # The outboxes' own statements (writing, the relay's reading and marking), wherever they rank.
            "outbox": [entry(row) for row in rows if ".outbox" in row["query"] or '"outbox"' in row["query"]],
        }

    async def _table_counters(self, admin: asyncpg.Connection) -> dict[str, dict[str, Any]]:
        schemas = list(self.schemas)
        tables = await admin.fetch(
            """SELECT schemaname || '.' || relname AS name, n_tup_ins AS ins, n_tup_upd AS upd,
                      n_tup_hot_upd AS hot, n_tup_del AS del, n_live_tup AS live, n_dead_tup AS dead,
                      autovacuum_count AS autovacuum, autoanalyze_count AS autoanalyze,
                      pg_total_relation_size(relid) AS bytes
               FROM pg_stat_user_tables WHERE schemaname = ANY($1::text[])""",
            schemas,
        )
        indexes = await admin.fetch(
            """SELECT schemaname || '.' || relname AS name, indexrelname AS index, idx_scan AS scans,
                      pg_relation_size(indexrelid) AS bytes
               FROM pg_stat_user_indexes WHERE schemaname = ANY($1::text[])""",
            schemas,
        )
        counters = {row["name"]: {**dict(row), "indexes": {}} for row in tables}
        for row in indexes:
            counters[row["name"]]["indexes"][row["index"]] = (row["scans"], row["bytes"])
        return counters

    @staticmethod
    def describe(profile: dict[str, Any], top: int = 6) -> str:
        """A few lines for the console: the top statements by time per event, and the outbox/inbox tables."""
        lines = []
        statements = profile.get("statements")
        if statements:
            lines.append(
                f"statements: {statements['calls_per_event']} calls/event; exec ms/event by service "
                f"{statements['exec_ms_per_event_by_service']}"
            )
            shown = statements["top"][:top]
            for s in shown + [s for s in statements["outbox"] if s not in shown]:
                lines.append(
                    f"  {s['exec_ms_per_event']:.3f} ms/ev {s['calls_per_event']:.2f} calls/ev "
                    f"{s['mean_ms']} ms/call {s['blocks_per_call']} blk/call [{s['service']}] {s['query'][:110]}"
                )
        for name, t in profile["tables"].items():
            if name.endswith((".outbox", ".inbox", ".delivery_attempt")):
                lines.append(
                    f"  {name}: ins {t['inserted_per_event']} upd {t['updated_per_event']} (hot "
                    f"{t['hot_updated_per_event']}) del {t['deleted_per_event']} /ev; dead {t['dead']} of "
                    f"{t['live']} live; autovacuum {t['autovacuum_runs']}; {t['size_mb']} MB"
                )
        return "\n".join(lines)
