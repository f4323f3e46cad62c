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
