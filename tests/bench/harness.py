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
    """CPU time (user + system) of a process and its descendants living now (a server and its backends)."""
    return sum(_cpu_seconds(p) for p in _process_tree(pid))


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


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def _vm_hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


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
