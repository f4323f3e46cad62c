"""Hostile input on the real broker (issue 13): every consumed topic gets the whole corpus (``corpus.py``: keys,
headers and bodies, several hundred cases), interleaved across partitions, with every service running as its
own process. Each case must end applied, or dead-lettered with the expected class — by every service that
consumes the topic —, the valid canaries sent after them on every partition must be applied, the dead letters
must all leave through the relay (none quarantined), and no service process may have died. The services are
started, reported and stopped as `make up` / `make down` do it (``deploy/local/stack.py``), on this session's
servers."""

from __future__ import annotations

import asyncio
import importlib.util
import os
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from hostile.corpus import Case, corpus, valid_message
from kokunen_common.database_setup import BY_SERVICE
from kokunen_contracts.registry import TopicSpec
from kokunen_testing.infra import load_localstack, repo_root
from kokunen_testing.platform import Platform, eventually

pytestmark = pytest.mark.integration


def load_stack() -> ModuleType:
    """``deploy/local/stack.py``: what `make up` and `make down` run."""
    spec = importlib.util.spec_from_file_location("stack", repo_root() / "deploy" / "local" / "stack.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def send_all(platform: Platform, items: list[tuple[Case | None, Any, int]]) -> list[tuple[int, int]]:
    """Send (case, message, partition) in order; where each landed (partition, offset)."""
    producer = AIOKafkaProducer(bootstrap_servers=platform.bootstrap, acks="all", max_request_size=2 * 1024 * 1024)
    await producer.start()
    try:
        futures = [
            await producer.send(
                (case.topic.name if case else topic_name),
                key=m.key,
                value=m.value,
                headers=m.headers,
                partition=partition,
            )
            for case, (topic_name, m), partition in items
        ]
        landed = await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return [(meta.partition, meta.offset) for meta in landed]


def subscriptions(platform: Platform) -> dict[str, tuple[TopicSpec, list[str]]]:
    """Every topic a service subscribes to (as wired in its app, not only as the registry plans), and who."""
    found: dict[str, tuple[TopicSpec, list[str]]] = {}
    for service in BY_SERVICE:
        for spec, _ in platform.build(service).consumer.subscriptions:
            # Person topics only: a topic keyed by a 年度 (the 継続審査 run) starts a batch for every valid
            # message; its consumer's contract checks are the same code, exercised here on every other topic.
            if spec.key_field.endswith("atena_number"):
                found.setdefault(spec.name, (spec, []))[1].append(service)
    return found


async def test_no_input_stalls_a_partition_or_goes_missing(platform: Platform, tmp_path: Path) -> None:
    consumed = subscriptions(platform)

    def consumed_topics() -> list[TopicSpec]:
        return [spec for spec, _ in consumed.values()]

    def consumers_of(spec: TopicSpec) -> list[str]:
        return consumed[spec.name][1]

    cases = list(corpus(consumed_topics()))
    assert len(cases) >= 200, len(cases)
    per_topic: Counter[str] = Counter()
    items: list[tuple[Case | None, Any, int]] = []
    for case in cases:
        partition = per_topic[case.topic.name] % case.topic.partitions
        per_topic[case.topic.name] += 1
        items.append((case, (case.topic.name, case.message), partition))
    # Canaries: a valid message on every partition that received hostile ones, sent after them.
    canaries = []
    canary_partitions: list[tuple[str, int]] = []
    for spec in consumed_topics():
        for partition in range(min(per_topic[spec.name], spec.partitions)):
            canary = valid_message(spec)
            canaries.append((spec, canary))
            canary_partitions.append((spec.name, partition))
            items.append((None, (spec.name, canary), partition))

    stack, pid_alive = load_stack(), load_localstack().pid_alive
    run_dir = tmp_path / "stack"
    given = {  # the session's keys and quick settings; the URLs and health ports are stack.py's own
        **{k: v for k, v in platform.service_env("residency_sync").items() if "DATABASE_URL" not in k},
        "LOG_LEVEL": os.environ.get("HOSTILE_LOG_LEVEL", "ERROR"),
    }
    services = await asyncio.to_thread(
        stack.start_services, run_dir, platform.bootstrap, platform.infra.admin_db_url, given
    )
    pids = {name: facts["pid"] for name, facts in services.items()}
    assert set(pids) == set(BY_SERVICE)
    admin = await platform.admin()
    try:
        landed = await send_all(platform, items)

        waiting: list[str] = []

        async def canaries_applied() -> bool:
            waiting.clear()
            for (spec, canary), (_, partition) in zip(canaries, canary_partitions, strict=True):
                for service in consumers_of(spec):
                    schema = BY_SERVICE[service].schema
                    if not await admin.fetchval(
                        f"SELECT 1 FROM {schema}.inbox WHERE message_key = $1", str(canary.event_id)
                    ):
                        waiting.append(f"{spec.name}/{partition} [{service}]")
            return not waiting

        try:
            await eventually(canaries_applied, timeout_s=300, interval_s=1.0)
        except AssertionError:
            raise AssertionError(f"canaries not applied: {waiting}") from None

        problems = []
        outcomes: Counter[str] = Counter()
        for (case, _, _), (partition, offset) in zip(items, landed, strict=False):
            if case is None:
                continue
            for service in consumers_of(case.topic):
                schema = BY_SERVICE[service].schema
                letter = await admin.fetchrow(
                    f"""SELECT error_class, reason FROM {schema}.dead_letter
                        WHERE source_topic = $1 AND source_partition = $2 AND source_offset = $3""",
                    case.topic.name,
                    partition,
                    offset,
                )
                if letter is not None:
                    outcome = letter["error_class"]
                elif await admin.fetchval(
                    f"SELECT 1 FROM {schema}.inbox WHERE message_key = $1", str(case.message.event_id)
                ):
                    outcome = "applied"
                else:
                    outcome = "missing"
                outcomes[outcome] += 1
                if outcome != case.expected:
                    reason = letter["reason"] if letter is not None else ""
                    problems.append(f"{case.topic.name} [{service}] {case.name}: {outcome} {reason}".strip())
        for spec, canary in canaries:
            for service in consumers_of(spec):
                schema = BY_SERVICE[service].schema
                if await admin.fetchval(
                    f"SELECT 1 FROM {schema}.dead_letter WHERE source_topic = $1 AND header_values @> ARRAY[$2::bytea]",
                    spec.name,
                    str(canary.event_id).encode(),
                ):
                    problems.append(f"{spec.name} [{service}] canary dead-lettered")
        assert not problems, f"{len(problems)} of {len(cases)} cases ended wrong:\n" + "\n".join(problems)

        async def dead_letters_published() -> bool:
            for service in BY_SERVICE.values():
                if await admin.fetchval(
                    f"SELECT 1 FROM {service.schema}.outbox WHERE topic LIKE '%.dlq' AND published_at IS NULL"
                ):
                    return False
            return True

        await eventually(dead_letters_published, timeout_s=120, interval_s=1.0)
        for service in BY_SERVICE.values():
            assert not await admin.fetchval(f"SELECT count(*) FROM {service.schema}.outbox_quarantine")
        for name, pid in pids.items():
            assert pid_alive(pid), (
                f"{name} (pid {pid}) exited: {(run_dir / 'logs' / f'{name}.log').read_text()[-3000:]}"
            )
        # What `make up` prints once every service answers /readyz: where each one is, and how to connect.
        assert not await asyncio.to_thread(stack.wait_until_ready, services, 120)
        report = stack.summary(run_dir, platform.bootstrap, platform.infra.admin_db_url, services, set())
        for facts in services.values():
            assert f"http://127.0.0.1:{facts['port']}/readyz" in report
            assert facts["database_url"] in report
        assert "(password = role name)" in report
        assert f"{services['counter']['pages']}   sign in as:" in report
        exported = (run_dir / "env.sh").read_text()
        assert f"export KAFKA_BOOTSTRAP_SERVERS={platform.bootstrap}" in exported
        assert "export MYNUMBER_KEYS=" in exported
        print(f"\nhostile cases: {len(cases)}, outcomes per consumer: {dict(outcomes)}, canaries: {len(canaries)}")
    finally:
        await admin.close()
        await asyncio.to_thread(stack.down, run_dir)  # `make down`: every service stopped
    assert not [name for name, pid in pids.items() if pid_alive(pid)]
    assert not (run_dir / "services.json").exists()
