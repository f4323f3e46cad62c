"""Chaos run (issue 13): a stream of resident changes and tax assessments through residency_sync → eligibility →
transfer_dispatch (and tax_sync → eligibility), each service its own process, while each service is killed
(SIGKILL) at random moments of its own work and restarted, the broker is restarted and PostgreSQL is stopped for a
while; then every effect is reconciled with what the input says it must be: 0 lost, 0 doubled.

What the input must cause (国民年金法):
- residency: one version per 異動 (its change id) and one ``person-changed`` per 異動;
- tax: one assessment per person and one ``income-determined``; eligibility keeps that income once;
- eligibility: one dated fact per ``person-changed``; 国外転入 of a Japanese resident aged 20–59 → 資格取得 on the
  転入日 (8条2号); 死亡 → 資格喪失 on the day after (9条1号); a 氏名の変更 changes no qualification;
- transfer_dispatch: each qualification change kept once, with those dates;
- every event a service published to a topic another reads is in that reader's inbox, every outbox is drained
  and every consumer group has committed up to the end of every topic it reads (lag 0).

Shared by ``make chaos`` (tests/drills/run_chaos.py: tens of thousands of events) and ``tests/test_chaos.py`` (a
small seeded run in ``make test``). Faults fire on progress (a fraction of the service's own expected work), not on
wall-clock time, so a slow machine still kills each service mid-stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from kokunen_common.messaging import publish_events
from kokunen_contracts.envelope import Event
from kokunen_contracts.registry import (
    INCOME_ASSESSED,
    INCOME_DETERMINED,
    PERSON_CHANGED,
    QUALIFICATION_CHANGED,
    RESIDENT_CHANGED,
    TopicSpec,
)
from kokunen_contracts.residency import Address, ChangeReason, PersonName

from .factories import change, income_assessed, resident
from .platform import Platform

SERVICES = ("residency_sync", "tax_sync", "eligibility", "transfer_dispatch")
SCHEMAS = {
    "residency_sync": "residency",
    "tax_sync": "tax",
    "eligibility": "eligibility",
    "transfer_dispatch": "dispatch",
}
# Who reads what the chain publishes (counter reads some of these too; it is not part of this run).
READERS: dict[str, tuple[str, tuple[str, ...]]] = {
    PERSON_CHANGED.name: ("residency", ("tax", "eligibility", "dispatch")),
    INCOME_DETERMINED.name: ("tax", ("eligibility",)),
    QUALIFICATION_CHANGED.name: ("eligibility", ("dispatch",)),
}


@dataclass(frozen=True)
class ChaosPlan:
    people: int = 10_000
    seed: int = 13
    kills_per_service: int = 3
    broker_restarts: int = 1
    database_outages: int = 1
    database_outage_s: float = 10.0
    death_share: float = 0.25
    chunk: int = 500
    backlog: int = 4_000
    """Most resident changes published ahead of residency_sync: the stream keeps flowing while faults happen."""
    settle_timeout_s: float = 3_600.0


@dataclass(frozen=True)
class Person:
    atena: str
    moved_in: date
    died_on: date | None


@dataclass
class ChaosInput:
    people: list[Person]
    stream: list[tuple[TopicSpec, Event]]
    change_ids: dict[str, int]
    """Each 異動's change id: one version each."""
    first: str
    last: str
    """The 宛名番号 range of this run (other tests share the database)."""

    @property
    def resident_changes(self) -> int:
        return len(self.change_ids)

    def changes_of(self) -> Counter[str]:
        return Counter({p.atena: 2 + (p.died_on is not None) for p in self.people})


def make_input(plan: ChaosPlan) -> ChaosInput:
    """Per person, in order on its key: 国外転入, 氏名の変更, for some 死亡; and one 所得 assessment. Persons are
    interleaved so that each one's changes are spread over the stream."""
    rng = random.Random(plan.seed)
    tag = uuid.uuid4().int % 900 + 100  # the range of this run: 8TTTnnnnnn
    width = 6
    people: list[Person] = []
    moves, renames, deaths, incomes = [], [], [], []
    for i in range(plan.people):
        atena = f"8{tag}{i:0{width}d}"
        born = date(1970, 1, 1) + timedelta(days=rng.randrange(25 * 365))  # 31–56: no 20歳/60歳 near today
        moved_in = date(2026, 4, 1) + timedelta(days=rng.randrange(150))
        died_on = moved_in + timedelta(days=rng.randrange(1, 40)) if rng.random() < plan.death_share else None
        record = resident(atena, birth_date=born, moved_in_from=Address(text="Paris", country_code="FR"))
        moves.append(change(ChangeReason.MOVE_IN_FROM_ABROAD, record, moved_in))
        renamed = record.model_copy(update={"name": PersonName(name="大宮 一子", kana="オオミヤ イチコ")})
        renames.append(change(ChangeReason.NAME_CHANGE, renamed, moved_in + timedelta(days=1)))
        deaths.append(change(ChangeReason.DEATH, renamed, died_on) if died_on else None)
        incomes.append(income_assessed(atena, total_income=rng.randrange(0, 5_000_000, 1000)))
        people.append(Person(atena, moved_in, died_on))
    lag = max(1, plan.chunk // 4)
    stream: list[tuple[TopicSpec, Event]] = []
    for i in range(plan.people + 2 * lag):
        if i < plan.people:
            stream.append((RESIDENT_CHANGED, moves[i]))
        if 0 <= i - lag < plan.people:
            stream.append((RESIDENT_CHANGED, renames[i - lag]))
            stream.append((INCOME_ASSESSED, incomes[i - lag]))
        death = deaths[i - 2 * lag] if 0 <= i - 2 * lag < plan.people else None
        if death is not None:
            stream.append((RESIDENT_CHANGED, death))
    change_ids = {e.change_id: 1 for spec, e in stream if spec is RESIDENT_CHANGED}  # type: ignore[attr-defined]
    return ChaosInput(people, stream, change_ids, people[0].atena, people[-1].atena)


@dataclass
class ChaosReport:
    events: int = 0
    kills: Counter[str] = field(default_factory=Counter)
    unplanned_exits: Counter[str] = field(default_factory=Counter)
    broker_restarts: int = 0
    database_outages: int = 0
    upstream_resends: int = 0
    lost: int = 0
    doubled: int = 0
    settled: bool = False
    lag: int = -1
    checks: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Per check: (lost, doubled)."""
    seconds: float = 0.0
    log_dir: Path | None = None

    @property
    def ok(self) -> bool:
        return self.settled and self.lost == 0 and self.doubled == 0 and self.lag == 0

    def log_tails(self, lines: int = 15) -> str:
        """The last warnings and errors of each service's log: why a run did not settle, while the logs (a test's
        temporary folder, which other sessions' pytest runs rotate away) may not be there to read later."""
        if self.log_dir is None:
            return ""
        tails = []
        for log in sorted(self.log_dir.glob("*.log")):
            bad = [line for line in log.read_text(errors="replace").splitlines() if '"level": "info"' not in line]
            tails.append(f"--- {log.name} (last {lines} of {len(bad)} warning/error lines)\n" + "\n".join(bad[-lines:]))
        return "\n".join(tails)

    def summary(self) -> str:
        kills = ", ".join(f"{s} {n}" for s, n in sorted(self.kills.items()))
        exits = ", ".join(f"{s} {n}" for s, n in sorted(self.unplanned_exits.items())) or "none"
        lines = [
            f"chaos: {self.events} events; kills {sum(self.kills.values())} ({kills}); broker restarts "
            f"{self.broker_restarts}; PostgreSQL outages {self.database_outages}; exits restarted {exits}; "
            f"upstream re-sends {self.upstream_resends}",
            f"chaos: lost {self.lost}, doubled {self.doubled}, consumer lag {self.lag}, settled {self.settled}, "
            f"{self.seconds:.0f} s",
        ]
        lines += [f"  {name:<44} lost {lost:>6} doubled {doubled:>6}" for name, (lost, doubled) in self.checks.items()]
        return "\n".join(lines)


class Supervised:
    """One service process, restarted by ``Chaos`` whenever it is gone (as an orchestrator would)."""

    def __init__(self, service: str, env: dict[str, str], log: Path) -> None:
        self.service, self.env, self.log = service, env, log
        self.process: subprocess.Popen[bytes] | None = None
        self.held = False  # being killed on purpose: the supervisor leaves it alone

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.service, "run"], env=self.env, stdout=out, stderr=subprocess.STDOUT
            )

    def kill(self) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


class Chaos:
    def __init__(self, platform: Platform, plan: ChaosPlan, log_dir: Path, *, say: Callable[[str], None] = print):
        self.platform, self.plan, self.say = platform, plan, say
        self.input = make_input(plan)
        self.rng = random.Random(plan.seed + 1)
        self.report = ChaosReport(events=len(self.input.stream), log_dir=log_dir)
        log_dir.mkdir(parents=True, exist_ok=True)
        self.services = {
            s: Supervised(s, {**os.environ, **platform.service_env(s), "LOG_LEVEL": "WARNING"}, log_dir / f"{s}.log")
            for s in SERVICES
        }
        expected = self.input.changes_of()
        deaths = sum(p.died_on is not None for p in self.input.people)
        self.expected_progress = {
            "residency_sync": self.input.resident_changes,
            "tax_sync": plan.people,
            "eligibility": sum(expected.values()),
            "transfer_dispatch": plan.people + deaths,
        }
        self.progress = dict.fromkeys(SERVICES, 0)
        self._infra_lock = asyncio.Lock()
        self._progressed = asyncio.Condition()
        self._tasks: list[asyncio.Task[None]] = []
        self._sent_changes = 0

    # --- running ------------------------------------------------------------------------------

    async def run(self) -> ChaosReport:
        started = time.monotonic()
        await self.start()
        try:
            faults = [asyncio.create_task(self._kills(s)) for s in SERVICES]
            faults += [asyncio.create_task(self._broker_restarts()), asyncio.create_task(self._database_outages())]
            await self.publish(self.input.stream)
            deadline = time.monotonic() + self.plan.settle_timeout_s
            try:
                await asyncio.wait_for(asyncio.gather(*faults), timeout=max(1.0, deadline - time.monotonic()))
            except TimeoutError:  # a service made no progress to its next fault: reported, not settled
                self.say(
                    f"chaos: faults still waiting at the deadline; progress {self.progress} of {self.expected_progress}"
                )
            else:
                self.report.settled = await self.settle(deadline)
        finally:
            await self.stop()
        await self.reconcile()
        self.report.seconds = time.monotonic() - started
        return self.report

    async def start(self) -> None:
        """Every service, then the supervisor (restarts any that exits) and the progress watcher."""
        for service in self.services.values():
            service.held = False
            service.start()
        self._tasks = [asyncio.create_task(self._supervise()), asyncio.create_task(self._watch_progress())]

    async def stop(self, *, kill: bool = False) -> None:
        """Stop watching and every service: SIGTERM, or SIGKILL when ``kill`` (a disaster)."""
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for service in self.services.values():
            service.held = True
            await asyncio.to_thread(service.kill if kill else service.stop)

    def repoint(self, platform: Platform) -> None:
        """Run the services against another database (a restored one) from now on."""
        self.platform = platform
        for name, service in self.services.items():
            service.env = {**service.env, **platform.service_env(name)}
        self.progress = dict.fromkeys(SERVICES, 0)

    async def _supervise(self) -> None:
        while True:
            for name, service in self.services.items():
                process = service.process
                if not service.held and process is not None and process.poll() is not None:
                    self.report.unplanned_exits[name] += 1
                    self.say(f"chaos: {name} exited ({process.returncode}) by itself: restarting it")
                    service.start()
            await asyncio.sleep(0.5)

    async def _watch_progress(self) -> None:
        while True:
            with contextlib.suppress(Exception):  # PostgreSQL may be down on purpose
                self.progress = await self._progress()
                async with self._progressed:
                    self._progressed.notify_all()
            await asyncio.sleep(0.3)

    async def _progress(self) -> dict[str, int]:
        conn = await self.platform.admin()
        try:
            row = await conn.fetchrow(
                """SELECT
                     (SELECT count(*) FROM residency.person_version WHERE atena_number BETWEEN $1 AND $2),
                     (SELECT count(*) FROM tax.income_assessment WHERE atena_number BETWEEN $1 AND $2),
                     (SELECT count(*) FROM eligibility.dated_fact WHERE atena_number BETWEEN $1 AND $2),
                     (SELECT count(*) FROM dispatch.qualification_change WHERE atena_number BETWEEN $1 AND $2)""",
                self.input.first,
                self.input.last,
            )
        finally:
            await conn.close()
        assert row is not None
        return dict(zip(SERVICES, (int(v) for v in row.values()), strict=True))

    async def _until(self, service: str, fraction: float) -> None:
        await self._wait_for(lambda: self.progress[service] >= fraction * self.expected_progress[service])

    async def _until_applied(self, changes: int) -> None:
        await self._wait_for(lambda: self.progress["residency_sync"] >= changes)

    async def _wait_for(self, condition: Callable[[], bool]) -> None:
        async with self._progressed:
            await self._progressed.wait_for(condition)

    async def publish(self, stream: list[tuple[TopicSpec, Event]]) -> None:
        """The upstream systems: in chunks, at most ``backlog`` changes ahead of residency_sync; a chunk the broker
        did not take (it is restarting) is sent again (the services dedupe by event id)."""
        chunk = self.plan.chunk
        for start in range(0, len(stream), chunk):
            part = stream[start : start + chunk]
            await self._until_applied(self._sent_changes - self.plan.backlog)
            for attempt in range(1_000):
                try:
                    async with self.platform.producer() as producer:
                        for spec in (RESIDENT_CHANGED, INCOME_ASSESSED):
                            await publish_events(
                                producer, spec, [e for s, e in part if s is spec], source="/chaos/upstream"
                            )
                    break
                except (TimeoutError, KafkaError, OSError):
                    self.report.upstream_resends += 1 if attempt == 0 else 0
                    await asyncio.sleep(1.0)
            self._sent_changes += sum(1 for s, _ in part if s is RESIDENT_CHANGED)

    async def _kills(self, name: str) -> None:
        service = self.services[name]
        for fraction in sorted(self.rng.uniform(0.05, 0.9) for _ in range(self.plan.kills_per_service)):
            await self._until(name, fraction)
            service.held = True
            try:
                await asyncio.to_thread(service.kill)
                self.report.kills[name] += 1
                self.say(f"chaos: kill -9 {name} at {self.progress[name]}/{self.expected_progress[name]}")
                await asyncio.sleep(self.rng.uniform(0.0, 2.0))
                service.start()
            finally:
                service.held = False

    async def _broker_restarts(self) -> None:
        infra = self.platform.infra
        if infra.stop_kafka is None or infra.start_kafka is None:
            self.say(f"chaos: Kafka comes from {infra.source}: no broker restart")
            return
        for fraction in sorted(self.rng.uniform(0.2, 0.8) for _ in range(self.plan.broker_restarts)):
            await self._until("eligibility", fraction)
            async with self._infra_lock:
                self.say(f"chaos: broker restart at eligibility {self.progress['eligibility']}")
                await asyncio.to_thread(infra.stop_kafka)
                await asyncio.sleep(self.rng.uniform(1.0, 4.0))
                await asyncio.to_thread(infra.start_kafka)
                self.report.broker_restarts += 1

    async def _database_outages(self) -> None:
        infra = self.platform.infra
        if infra.stop_database is None or infra.start_database is None:
            self.say(f"chaos: PostgreSQL comes from {infra.source}: no outage")
            return
        for fraction in sorted(self.rng.uniform(0.2, 0.8) for _ in range(self.plan.database_outages)):
            await self._until("transfer_dispatch", fraction)
            async with self._infra_lock:
                self.say(f"chaos: PostgreSQL down for {self.plan.database_outage_s:.0f} s")
                await asyncio.to_thread(infra.stop_database)
                try:
                    await asyncio.sleep(self.plan.database_outage_s)
                finally:
                    await asyncio.to_thread(infra.start_database)
                self.report.database_outages += 1

    # --- settling and reconciling -------------------------------------------------------------

    async def settle(self, deadline: float, *, complete: bool = True) -> bool:
        """Until every expected effect is there (unless not ``complete``: part of the input sent), every outbox is
        drained and every group's lag is 0 — twice, a few seconds apart (a late redelivery would show up as a double
        in between)."""
        quiet = 0
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                if (self._all_there() or not complete) and await self._drained() and await self._lag() == 0:
                    quiet += 1
                    if quiet == 2:
                        return True
                    await asyncio.sleep(3.0)
                    continue
            quiet = 0
            await asyncio.sleep(1.0)
        return False

    def _all_there(self) -> bool:
        return all(self.progress[s] >= self.expected_progress[s] for s in SERVICES)

    async def _drained(self) -> bool:
        conn = await self.platform.admin()
        try:
            for schema in SCHEMAS.values():
                if await conn.fetchval(f"SELECT count(*) FROM {schema}.outbox WHERE published_at IS NULL"):
                    return False
            return True
        finally:
            await conn.close()

    async def _lag(self) -> int:
        """Records not yet committed by the service groups, over every topic each reads."""
        total = 0
        admin = AIOKafkaAdminClient(bootstrap_servers=self.platform.bootstrap)
        await admin.start()
        try:
            ends: dict[str, dict[int, int]] = {}
            for service in SERVICES:
                committed = await admin.list_consumer_group_offsets(service)
                for spec, _ in self.platform.build(service).consumer.subscriptions:
                    if spec.name not in ends:
                        ends[spec.name] = await self.platform.end_offsets(spec.name)
                    for partition, end in ends[spec.name].items():
                        mark = committed.get(TopicPartition(spec.name, partition))
                        total += end - (mark.offset if mark is not None and mark.offset >= 0 else 0)
        finally:
            await admin.close()
        return total

    async def reconcile(self) -> ChaosReport:
        """Every effect against what the input says it must be; fills ``lost``, ``doubled``, ``lag``."""
        conn = await self.platform.admin()
        first, last = self.input.first, self.input.last
        checks: dict[str, tuple[int, int]] = {}

        def compare(name: str, expected: Counter[Any], actual: Counter[Any]) -> None:
            lost = sum((expected - actual).values())
            doubled = sum((actual - expected).values())
            checks[name] = (lost, doubled)

        async def counted(sql: str, *args: Any) -> Counter[Any]:
            return Counter({tuple(r)[:-1] if len(r) > 2 else r[0]: r[-1] for r in await conn.fetch(sql, *args)})

        try:
            per_person = self.input.changes_of()
            compare(
                "residency: version per 異動",
                Counter(self.input.change_ids),
                await counted(
                    "SELECT change_id, count(*) FROM residency.person_version WHERE atena_number BETWEEN $1 AND $2 "
                    "GROUP BY 1",
                    first,
                    last,
                ),
            )
            for schema, topic, expected in (
                ("residency", PERSON_CHANGED.name, per_person),
                ("tax", INCOME_DETERMINED.name, Counter({p.atena: 1 for p in self.input.people})),
            ):
                compare(
                    f"{schema}: {topic} per person",
                    expected,
                    await counted(
                        f"SELECT message_key, count(*) FROM {schema}.outbox WHERE topic = $3 "
                        "AND message_key BETWEEN $1 AND $2 GROUP BY 1",
                        first,
                        last,
                        topic,
                    ),
                )
            one_each = Counter({p.atena: 1 for p in self.input.people})
            for name, table in (
                ("tax: assessment per person", "tax.income_assessment"),
                ("eligibility: income per person", "eligibility.income"),
            ):
                compare(
                    name,
                    one_each,
                    await counted(
                        f"SELECT atena_number, count(*) FROM {table} WHERE atena_number BETWEEN $1 AND $2 GROUP BY 1",
                        first,
                        last,
                    ),
                )
            compare(
                "eligibility: dated fact per person-changed",
                per_person,
                await counted(
                    "SELECT atena_number, count(*) FROM eligibility.dated_fact WHERE atena_number BETWEEN $1 AND $2 "
                    "GROUP BY 1",
                    first,
                    last,
                ),
            )
            # The law's answer for each person: 取得 on the 転入日 (8条2号); 喪失 the day after death (9条1号).
            expected_changes: Counter[tuple[str, str, date | None, date | None]] = Counter()
            for p in self.input.people:
                expected_changes[(p.atena, "acquired", p.moved_in, None)] += 1
                if p.died_on is not None:
                    expected_changes[(p.atena, "lost", p.moved_in, p.died_on + timedelta(days=1))] += 1
            compare(
                "dispatch: qualification change kept (kind, dates)",
                expected_changes,
                await counted(
                    "SELECT atena_number, change_kind, acquired_on, lost_on, count(*) "
                    "FROM dispatch.qualification_change WHERE atena_number BETWEEN $1 AND $2 GROUP BY 1, 2, 3, 4",
                    first,
                    last,
                ),
            )
            compare(
                "eligibility: qualification-changed per person",
                Counter({p.atena: 1 + (p.died_on is not None) for p in self.input.people}),
                await counted(
                    "SELECT message_key, count(*) FROM eligibility.outbox WHERE topic = $3 "
                    "AND message_key BETWEEN $1 AND $2 GROUP BY 1",
                    first,
                    last,
                    QUALIFICATION_CHANGED.name,
                ),
            )
            # Inboxes: every event the input and the chain published is claimed once by each reader.
            upstream = {
                "residency": [str(e.event_id) for s, e in self.input.stream if s is RESIDENT_CHANGED],
                "tax": [str(e.event_id) for s, e in self.input.stream if s is INCOME_ASSESSED],
            }
            for schema, ids in upstream.items():
                claimed = await conn.fetchval(
                    f"SELECT count(*) FROM {schema}.inbox WHERE message_key = ANY($1::text[])", ids
                )
                checks[f"{schema}: inbox holds every upstream event"] = (len(ids) - claimed, 0)
            for topic, (producer, readers) in READERS.items():
                for reader in readers:
                    missing = await conn.fetchval(
                        f"""SELECT count(*) FROM {producer}.outbox o WHERE o.topic = $3
                              AND o.message_key BETWEEN $1 AND $2
                              AND NOT EXISTS (SELECT 1 FROM {reader}.inbox i WHERE i.message_key = o.event_id::text)""",
                        first,
                        last,
                        topic,
                    )
                    checks[f"{reader}: inbox holds every {topic}"] = (missing, 0)
        finally:
            await conn.close()
        self.report.checks = checks
        self.report.lost = sum(lost for lost, _ in checks.values())
        self.report.doubled = sum(doubled for _, doubled in checks.values())
        with contextlib.suppress(Exception):
            self.report.lag = await self._lag()
        return self.report


async def run_chaos(
    platform: Platform, plan: ChaosPlan, log_dir: Path, say: Callable[[str], None] = print
) -> ChaosReport:
    return await Chaos(platform, plan, log_dir, say=say).run()
