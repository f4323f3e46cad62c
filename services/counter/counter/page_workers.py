"""The staff's pages in several processes (``COUNTER_WEB_WORKERS``): one Python process serves pages on one core
(rendering, sessions and the database driver are CPU work), so a counter with N cores runs N page workers.

Each worker is ``counter pages``: the web application on its own pool (and My Number vault), listening on the same
port as its siblings with SO_REUSEPORT — the kernel spreads connections over them. They neither read the topics
nor relay the outbox: the service process (``counter run``) does both and supervises the workers (a worker that
ends is started again). A filing's outbox row, written by a worker in the request's transaction, is relayed by the
service process like any other. A worker ends when the service process does, even when it is killed: it watches
its stdin, a pipe the service process holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import threading

import uvicorn
from kokunen_common.db import create_pool
from kokunen_common.logs import configure_logging, get_logger
from kokunen_common.service import ServiceRuntime, settle_heap
from kokunen_common.telemetry import configure_tracing
from pydantic import SecretStr

from .adapters.web import create_app
from .settings import CounterSettings

log = get_logger(__name__)
RESTART_AFTER_S = 1.0
KEEP_ALIVE_S = 75
STOP_WAIT_S = 10.0


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket on ``host:port`` that the other workers may bind too (SO_REUSEPORT)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def server_config(app: object, settings: CounterSettings) -> uvicorn.Config:
    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=settings.counter_http_host,
        port=settings.counter_http_port,
        log_config=None,
        access_log=False,  # the access log that matters is counter.access_log
        server_header=False,
        lifespan="off",
        # Longer than a proxy's idle upstream connection (nginx: 60 s): closed by us first, a connection can be
        # closed just as the proxy (or a client starved of CPU) sends the next request on it — a failed request.
        timeout_keep_alive=KEEP_ALIVE_S,
    )


def worker_env(settings: CounterSettings) -> dict[str, str]:
    """The environment of a worker: the service process's settings as they are (a port drawn at start, values a
    test set in code), not only the environment it was started with."""
    fields = type(settings).model_fields
    env = {k: v for k, v in os.environ.items() if k.lower() not in fields}
    for name in fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        env[name.upper()] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return env


async def supervise(settings: CounterSettings, stop: asyncio.Event) -> None:
    """Run ``settings.counter_web_workers`` page workers until ``stop``; start again any that ends."""
    settings.session_secret()  # every worker signs and reads the same cookie: a random secret is drawn once, here
    env = worker_env(settings)
    workers: list[asyncio.subprocess.Process | None] = [None] * settings.counter_web_workers

    async def start(slot: int) -> None:
        workers[slot] = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "counter", "pages", env=env, stdin=asyncio.subprocess.PIPE
        )

    for slot in range(len(workers)):
        await start(slot)
    log.info("counter page workers", url=settings.public_url, workers=len(workers))
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RESTART_AFTER_S)
            for slot, worker in enumerate(workers):
                if worker is not None and worker.returncode is not None and not stop.is_set():
                    log.error("counter page worker ended; starting it again", exit_code=worker.returncode)
                    await start(slot)
    finally:
        running = [w for w in workers if w is not None and w.returncode is None]
        for worker in running:
            with contextlib.suppress(ProcessLookupError):
                worker.send_signal(signal.SIGTERM)  # uvicorn finishes the requests in hand
        for worker in running:
            try:
                await asyncio.wait_for(worker.wait(), STOP_WAIT_S)
            except TimeoutError:
                worker.kill()
                await worker.wait()


async def serve_pages(runtime: ServiceRuntime) -> None:
    """One page worker: the pages on the runtime's settings, its own pool and vault, until SIGTERM or until the
    service process that started it is gone (stdin closed)."""
    settings = runtime.settings
    assert isinstance(settings, CounterSettings)
    vault = runtime.load_vault() if runtime.definition.needs_vault else None
    pool = await create_pool(runtime.database_url, size=settings.database_pool_size)
    try:
        server = uvicorn.Server(server_config(create_app(settings, lambda: pool, lambda: vault), settings))
        settle_heap()  # as a service process does once started: a page allocates many short-lived objects
        loop = asyncio.get_running_loop()

        def parent_gone() -> None:
            with contextlib.suppress(Exception):
                sys.stdin.buffer.read()  # returns at EOF: the service process closed the pipe or died
            loop.call_soon_threadsafe(setattr, server, "should_exit", True)

        threading.Thread(target=parent_gone, name="parent-watch", daemon=True).start()
        await server.serve(sockets=[listening_socket(settings.counter_http_host, settings.counter_http_port)])
    finally:
        await pool.close()


def run_page_worker(runtime: ServiceRuntime) -> None:
    settings = runtime.settings
    configure_logging(runtime.name, settings.log_level, settings.log_format)
    configure_tracing(runtime.name, settings.otel_exporter_otlp_endpoint)
    import uvloop  # the worker's own loop: uvicorn and asyncpg on libuv cost a fraction of the CPU

    uvloop.run(serve_pages(runtime))
