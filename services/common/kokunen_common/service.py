"""The runtime every service shares: settings → pool, broker, consumers, outbox relay, background
jobs, telemetry; a FastStream app for ``run`` and explicit start/stop for tests."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import typer
from aiokafka import AIOKafkaProducer
from faststream import FastStream
from faststream.kafka import KafkaBroker
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from pydantic import ValidationError

from .cli import describe_failure, log_to_stderr, operator_cli
from .crypto import MyNumberVault
from .database_setup import migrate
from .db import create_pool
from .errors import ConfigurationError, describe_exception
from .health import HealthServer
from .logs import configure_logging, get_logger
from .messaging import EventConsumer, idempotent_producer, kafka_client_kwargs
from .outbox import OutboxRelay
from .settings import ServiceSettings
from .telemetry import configure_tracing

log = get_logger(__name__)

BackgroundJob = Callable[["ServiceRuntime", asyncio.Event], Coroutine[Any, Any, None]]


@dataclass
class ServiceDefinition:
    """What makes one service: its name, schema, migrations and background jobs (subscriptions are
    added on the runtime's consumer, since handlers may need the runtime's vault)."""

    name: str
    schema: str
    migrations_dir: Path
    kept_on_replay: tuple[str, ...] = ()
    """Tables that record what the service did and no topic holds (sent batches, the transfer log, the
    scheduler's watermark): a replay keeps them."""
    background_jobs: list[BackgroundJob] = field(default_factory=list)
    needs_vault: bool = False
    dead_letter_retention_days: int | None = None
    """Days its dead-letter store keeps messages unless DEAD_LETTER_RETENTION_DAYS says otherwise (None: keep)."""


def broker_security(settings: ServiceSettings) -> BaseSecurity | None:
    kwargs = kafka_client_kwargs(settings)
    ssl_context = kwargs.get("ssl_context")
    mechanism = settings.kafka_sasl_mechanism
    if mechanism is None:
        return BaseSecurity(ssl_context=ssl_context) if ssl_context else None
    username = settings.kafka_sasl_username or ""
    password = settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else ""
    classes: dict[str, type[Any]] = {
        "PLAIN": SASLPlaintext,
        "SCRAM-SHA-256": SASLScram256,
        "SCRAM-SHA-512": SASLScram512,
    }
    return classes[mechanism](username=username, password=password, ssl_context=ssl_context)  # type: ignore[no-any-return]


class ServiceRuntime:
    def __init__(self, definition: ServiceDefinition, settings: ServiceSettings | None = None) -> None:
        self.definition = definition
        self.settings = settings or ServiceSettings()
        self.name = definition.name
        self.schema = definition.schema
        self._pool: asyncpg.Pool | None = None
        self.vault: MyNumberVault | None = None
        self.broker = KafkaBroker(
            self.settings.kafka_bootstrap_list,
            security=broker_security(self.settings),
            client_id=self.name,
            enable_idempotence=True,
            acks="all",
            allow_auto_create_topics=False,
            logger=None,
        )
        self.consumer = EventConsumer(
            service=self.name,
            schema=self.schema,
            broker=self.broker,
            settings=self.settings,
            pool_provider=lambda: self.pool,
        )
        self._producer: AIOKafkaProducer | None = None
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._relay: OutboxRelay | None = None
        self._relay_task: asyncio.Task[None] | None = None
        self._jobs: list[asyncio.Task[None]] = []
        self._health: HealthServer | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError(f"{self.name} is not started")
        return self._pool

    @property
    def database_url(self) -> str:
        return self.settings.database_url.get_secret_value()

    def load_vault(self) -> MyNumberVault:
        s = self.settings
        if s.mynumber_keys is None or s.mynumber_hash_key is None:
            raise ConfigurationError(f"{self.name} handles My Number: set MYNUMBER_KEYS and MYNUMBER_HASH_KEY")
        return MyNumberVault.from_config(
            s.mynumber_keys.get_secret_value(), s.mynumber_active_key_id, s.mynumber_hash_key.get_secret_value()
        )

    async def migrate(self) -> None:
        url = self.settings.migration_database_url or self.settings.database_url
        await migrate(self.definition.migrations_dir, url.get_secret_value(), self.schema)

    async def _start_support(self, *, relay: bool = True) -> None:
        """Everything but the consumers: vault, pool, then (unless ``relay`` is off, for handler
        tests) the outbox relay and the background jobs. The health server comes first: ``/livez`` answers
        while the database is still awaited."""
        if self.settings.metrics_port and self._health is None:
            self._health = HealthServer(self.settings.metrics_port, self.readiness, liveness=self.liveness)
            await self._health.start()
        if self.definition.needs_vault:
            self.vault = self.load_vault()
        self._pool = await create_pool(self.database_url, size=self.settings.database_pool_size)
        self._stop.clear()
        if not relay:
            return
        self._producer = idempotent_producer(self.settings)
        await self._producer.start()
        outbox_relay = OutboxRelay(
            service=self.name,
            schema=self.schema,
            database_url=self.database_url,
            producer=self._producer,
            batch_size=self.settings.outbox_batch_size,
            poll_interval_s=self.settings.outbox_poll_interval_s,
            retention_days=self.settings.outbox_retention_days,
            producer_factory=lambda: idempotent_producer(self.settings),
            dead_letter_retention_days=(
                self.settings.dead_letter_retention_days or self.definition.dead_letter_retention_days
            ),
        )
        self._relay = outbox_relay
        self._relay_task = asyncio.create_task(outbox_relay.run(self._stop), name="outbox_relay")
        self._relay_task.add_done_callback(self._task_ended)
        self._tasks.append(self._relay_task)
        self._jobs = [
            asyncio.create_task(job(self, self._stop), name=job.__name__) for job in self.definition.background_jobs
        ]
        for task in self._jobs:
            task.add_done_callback(self._task_ended)
        self._tasks.extend(self._jobs)

    def _task_ended(self, task: asyncio.Task[None]) -> None:
        """The relay or a background job ending before the service stops is a fault: one error line (with the
        exception, if any), and ``/readyz`` says so."""
        if self._stop.is_set() or task.cancelled():
            return
        exc = task.exception()
        log.error(
            "background task ended; the service is not ready",
            task=task.get_name(),
            error=describe_exception(exc) if exc else None,
        )

    async def start(self, *, consumers: bool = True, relay: bool = True) -> None:
        """Support first, consumers last (they need the pool). Handler tests on faststream's
        in-memory broker start neither consumers nor relay."""
        await self._start_support(relay=relay)
        if consumers:
            await self.broker.start()
        log.info("service started", service=self.name)

    def liveness(self) -> str | None:
        """What ``/livez`` reports: the relay or a background job ended while the service runs. Nothing restarts
        them in the process, so the process should be restarted (readiness alone would leave it up, idle)."""
        if self._stop.is_set():
            return None
        ended = [task.get_name() for task in self._tasks if task.done() and not task.cancelled()]
        return f"background task ended: {', '.join(ended)}" if ended else None

    async def readiness(self) -> dict[str, str | None]:
        """What ``/readyz`` reports: each check's failure reason, ``None`` when it passes."""
        timeout = self.settings.readiness_timeout_s
        checks = {
            "database": await self._database_reachable(),
            "broker": None if await self.broker.ping(timeout) else "Kafka is not reachable",
            "partitions": self._partitions_assigned(),
            "outbox_relay": relay_state(
                self._relay_task,
                self._relay.alive_at if self._relay else None,
                time.monotonic(),
                self.settings.relay_stall_after_s,
            ),
        }
        if self.definition.background_jobs:  # the counter's pages, eligibility's calendar, tax_sync's file relay
            checks["background_jobs"] = jobs_state(self._jobs)
        return checks

    async def _database_reachable(self) -> str | None:
        if self._pool is None:
            return "not connected yet"
        try:
            await asyncio.wait_for(self._pool.fetchval("SELECT 1"), timeout=self.settings.readiness_timeout_s)
        except Exception as exc:
            return f"PostgreSQL is not reachable ({type(exc).__name__})"
        return None

    def _partitions_assigned(self) -> str | None:
        """Every subscription's consumer has joined its group and holds at least one partition (a replica
        beyond the topic's partition count holds none and stays not ready: it does no work)."""
        waiting = sorted(
            topic
            for subscriber in self.broker.subscribers
            for topic in getattr(subscriber, "topic_names_for_subscribe", [])
            if getattr(subscriber, "consumer", None) is None or not subscriber.consumer.assignment()  # type: ignore[attr-defined]
        )
        return f"no partition assigned yet: {', '.join(waiting)}" if waiting else None

    async def stop(self) -> None:
        if self._health is not None:
            self._health.stopping = True
        self._stop.set()
        with contextlib.suppress(Exception):
            await self.broker.stop()
        for task in self._tasks:
            # A task that failed earlier was logged then (``_task_ended``): the stop goes on to close the rest.
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=10)
        self._tasks.clear()
        self._jobs = []
        if self._relay is not None:  # the relay may have replaced its producer
            self._producer = self._relay.producer
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await self._producer.stop()
            self._producer = None
        if self._pool is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._pool.close(), timeout=10)
            self._pool = None
        self._relay = self._relay_task = None
        if self._health is not None:
            await self._health.stop()
            self._health = None
        log.info("service stopped", service=self.name)

    async def __aenter__(self) -> ServiceRuntime:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    def faststream_app(self) -> FastStream:
        """The FastStream application (``run``): signals, lifecycle, telemetry and metrics."""
        configure_logging(self.name, self.settings.log_level, self.settings.log_format)
        configure_tracing(self.name, self.settings.otel_exporter_otlp_endpoint)

        @contextlib.asynccontextmanager
        async def lifespan() -> Any:
            # FastStream starts the broker after this yields: the consumers find the pool ready.
            try:
                await self._start_support()
                settle_heap()
                yield
            finally:
                await self.stop()

        return FastStream(self.broker, lifespan=lifespan)


GC_THRESHOLDS = (20_000, 20, 100)
"""Allocations between young collections, and young collections per older one (Python's default: 700, 10, 10).
A consumed batch allocates hundreds of thousands of short-lived objects: at the default, collections scanning
them took about a third of a stream event's CPU time (issue 12)."""


def settle_heap() -> None:
    """Once started: the modules, settings and clients loaded so far live as long as the process, so they are
    frozen out of every later collection, and collections run less often (``GC_THRESHOLDS``)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def relay_state(
    task: asyncio.Task[None] | None, alive_at: float | None, now: float, stall_after_s: float
) -> str | None:
    """Readiness of the outbox relay: running, and a cycle (or a standby's lock attempt) within ``stall_after_s``."""
    if task is None or alive_at is None:
        return "not started"
    if task.done():
        return "the relay has ended"
    if now - alive_at > stall_after_s:
        return f"stalled: no cycle for {now - alive_at:.0f} s"
    return None


def jobs_state(jobs: Sequence[asyncio.Task[None]]) -> str | None:
    """Readiness of a service's background jobs: started, and none of them has ended (they run until the stop)."""
    if not jobs:
        return "not started"
    ended = [job.get_name() for job in jobs if job.done()]
    return f"ended: {', '.join(ended)}" if ended else None


def service_cli(help_text: str, build: Callable[[], ServiceRuntime], run_help: str) -> typer.Typer:
    """The command line every service shares — ``run`` and ``migrate`` — to which a service adds its own."""
    cli = operator_cli(help_text)
    service = build.__module__.partition(".")[0]

    @cli.callback()
    def logs_off_stdout(ctx: typer.Context) -> None:
        if ctx.invoked_subcommand != "run":  # a service's stdout is its log; a command's is its report
            log_to_stderr(service)

    @cli.command(help=run_help)
    def run() -> None:
        try:
            runtime = build()
        except ValidationError as exc:  # a setting that does not parse: say which, as JSON like every line
            configure_logging(service)
            log.error("invalid configuration; exiting", error=describe_exception(exc))
            raise typer.Exit(2) from None
        try:
            asyncio.run(runtime.faststream_app().run())
        except Exception as exc:
            message, expected = describe_failure(exc, runtime.settings)
            # One JSON line: the reason, and the traceback (as a field) only when the failure is not an outage.
            log.error(message, error=describe_exception(exc), exc_info=None if expected else exc)
            raise typer.Exit(1) from None

    @cli.command()
    def migrate() -> None:
        """Apply this service's migrations (as its owner role: MIGRATION_DATABASE_URL)."""
        asyncio.run(build().migrate())

    return cli
