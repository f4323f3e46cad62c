"""docs/integration.md: generated from the registry and the golden examples (with the key and headers committed
beside each), and every kcat command it documents, run as written, gets each example applied by the service that
reads it; `kokunen-admin publish` sends the same key and headers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka.admin import AIOKafkaAdminClient
from kokunen_common.database_setup import BY_SERVICE
from kokunen_common.integration_guide import examples_of, render, upstream_topics
from kokunen_common.outbox import decode_headers
from kokunen_common.platform import installed_services
from kokunen_common.service import ServiceRuntime
from kokunen_contracts.envelope import H_ID
from kokunen_contracts.registry import BATCH_COMPLETED_TOPICS, BY_NAME
from kokunen_contracts.transfer import event_ids_digest
from kokunen_testing.departments import documented_completeness_check
from kokunen_testing.platform import Platform, eventually

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "integration.md"


def documented_publish_commands() -> list[list[str]]:
    text = GUIDE.read_text().replace("\\\n", " ")
    return [shlex.split(line) for line in text.splitlines() if line.startswith("kokunen-admin publish ")]


def test_the_committed_guide_is_the_generated_one() -> None:
    assert GUIDE.read_text() == render(ROOT), "run: kokunen-admin integration-guide > docs/integration.md"


def test_the_guide_covers_every_upstream_topic_and_example_with_the_exact_envelope() -> None:
    commands = {command[2]: command[3:] for command in documented_publish_commands()}
    assert set(commands) == {spec.name for spec in upstream_topics()}
    text = GUIDE.read_text()
    for spec in upstream_topics():
        examples = examples_of(ROOT, spec)
        assert examples, f"{spec.name} has no golden example"
        assert commands[spec.name] == [str(path) for path, _ in examples]
        for _, event in examples:
            assert f"-H ce_id={event.event_id}" in text
            assert f"-k {spec.key_of(event)}" in text
        assert f"-H ce_type={spec.event_type}" in text


def test_the_documented_completeness_check_agrees_with_the_markers_digest() -> None:
    batch_is_whole = documented_completeness_check()
    for records_topic, marker_topic in BATCH_COMPLETED_TOPICS.items():
        (_, marker) = examples_of(ROOT, marker_topic)[0]
        records = [event.model_dump(mode="json") for _, event in examples_of(ROOT, BY_NAME[records_topic])]
        assert batch_is_whole(marker.model_dump(mode="json"), records), marker_topic.name
    ids = [str(uuid.uuid4()) for _ in range(50)]
    marker = {"batch_id": "nhi-2026-11", "record_count": 50, "event_ids_sha256": event_ids_digest(ids)}
    records = [{"event_id": i.upper(), "batch_id": "nhi-2026-11"} for i in reversed(ids)]
    other = {"event_id": str(uuid.uuid4()), "batch_id": "nhi-2026-10"}
    assert batch_is_whole(marker, [*records, records[0], other])  # any order, a duplicate, another batch
    assert not batch_is_whole(marker, records[1:])
    assert not batch_is_whole(marker, [*records[1:], {**other, "batch_id": "nhi-2026-11"}])


def test_asyncapi_gives_each_topic_its_exact_type_and_key() -> None:
    document = yaml.safe_load((ROOT / "contracts" / "asyncapi.yaml").read_text())
    for spec in BY_NAME.values():
        message = document["components"]["messages"][spec.model.__name__]
        assert message["headers"]["properties"]["ce_type"]["const"] == spec.event_type
        key = message["bindings"]["kafka"]["key"]["description"]
        assert spec.key_field in key
        assert ("基礎年金番号" in key) == spec.key_field.endswith("basic_pension_number")


async def _applied(platform: Platform, service: str, topic: str, event_ids: set[str]) -> bool:
    """Every id claimed in the service's inbox, and none of them dead-lettered."""
    schema = BY_SERVICE[service].schema
    conn = await platform.connect_as(service)
    try:
        claimed = await conn.fetchval(
            f"SELECT count(*) FROM {schema}.inbox WHERE message_key = ANY($1::text[])", list(event_ids)
        )
        if claimed < len(event_ids):
            return False
        dead = await conn.fetch(
            f"SELECT headers::text AS headers FROM {schema}.outbox WHERE topic = $1", topic + ".dlq"
        )
    finally:
        await conn.close()
    rejected = {dict(decode_headers(row["headers"])).get(H_ID, b"").decode() for row in dead} & event_ids
    assert not rejected, f"dead-lettered: {rejected}"
    return True


async def _settled(platform: Platform, runtimes: list[ServiceRuntime]) -> bool:
    """Every running service has published its outbox and consumed every topic it reads to the end: the next
    examples then arrive after everything the previous ones caused, in the order a replay will see them."""
    admin = AIOKafkaAdminClient(bootstrap_servers=platform.bootstrap)
    await admin.start()
    try:
        for runtime in runtimes:
            conn = await platform.connect_as(runtime.name)
            try:
                pending = await conn.fetchval(
                    f"SELECT count(*) FROM {runtime.schema}.outbox WHERE published_at IS NULL"
                )
            finally:
                await conn.close()
            if pending:
                return False
            committed = {
                (tp.topic, tp.partition): meta.offset
                for tp, meta in (await admin.list_consumer_group_offsets(runtime.name)).items()
            }
            for spec, _ in runtime.consumer.subscriptions:
                for partition, end in (await platform.end_offsets(spec.name)).items():
                    if end and committed.get((spec.name, partition), -1) < end:
                        return False
        return True
    finally:
        await admin.close()


def documented_kcat_commands() -> dict[str, list[str]]:
    """The guide's kcat producer commands, as written, by topic."""
    found: dict[str, list[str]] = {}
    for line in GUIDE.read_text().replace("\\\n", " ").splitlines():
        if line.startswith("kcat -P "):
            words = shlex.split(line)
            found.setdefault(words[words.index("-t") + 1], []).append(line)
    return found


def _envelope(record: Any) -> tuple[bytes | None, dict[str, bytes]]:
    """A message's key and CloudEvents headers (a trace context, if any, is the sender's own)."""
    return record.key, {k: v for k, v in record.headers if k.startswith("ce_") or k == "content-type"}


async def _run(argv: list[str], env: dict[str, str]) -> str:
    """Run a documented command line from the repository's root; its stdout (it must succeed)."""
    result = await asyncio.to_thread(
        subprocess.run, argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.integration
async def test_every_example_sent_with_the_documented_kcat_command_is_applied(platform: Platform) -> None:
    """Each upstream example goes out with the guide's kcat command, run as written by a shell (Debian's kcat,
    `make kafka-cli`), and the service that reads the topic applies it; `kokunen-admin publish` as documented
    then sends the same key and headers (the events are already applied: consumers take them as duplicates)."""
    kcat = shutil.which("kcat")
    assert kcat, "kcat is not installed: run `make kafka-cli` (make test does)"
    admin = str(Path(sys.executable).parent / "kokunen-admin")
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": platform.bootstrap}
    kcat_commands = documented_kcat_commands()
    publish_commands = {command[2]: command for command in documented_publish_commands()}
    assert set(kcat_commands) == set(publish_commands) == {spec.name for spec in upstream_topics()}
    async with contextlib.AsyncExitStack() as stack:
        # Every service runs, so that what one example causes downstream is applied before the next arrives.
        runtimes = [await stack.enter_async_context(platform.build(service)) for service in installed_services()]
        await eventually(lambda: _settled(platform, runtimes), timeout_s=120)
        for topic, commands in kcat_commands.items():
            spec = BY_NAME[topic]
            examples = examples_of(ROOT, spec)
            ids = {str(event.event_id) for _, event in examples}
            count = len(examples)
            start = await platform.end_offsets(topic)
            for command in commands:
                await _run(["bash", "-c", command], env)
            for service in [c for c in spec.consumers if c in BY_SERVICE]:
                await eventually(lambda s=service, t=topic, i=ids: _applied(platform, s, t, i), timeout_s=90)
            await eventually(lambda: _settled(platform, runtimes), timeout_s=120)
            by_kcat = await platform.read_from(topic, start, until=lambda r, n=count: len(r) >= n)
            # One message per file, the file's bytes as they are.
            assert sorted(r.value for r in by_kcat) == sorted((ROOT / path).read_bytes() for path, _ in examples)

            middle = await platform.end_offsets(topic)
            published = await _run([admin, *publish_commands[topic][1:]], env)
            assert set(re.findall(r"ce_id=([0-9a-f-]{36})", published)) == ids
            by_admin = await platform.read_from(topic, middle, until=lambda r, n=count: len(r) >= n)
            # The same messages again: nothing more to apply (consumers take them as duplicates).
            assert sorted(map(_envelope, by_admin), key=repr) == sorted(map(_envelope, by_kcat), key=repr)
        await eventually(lambda: _settled(platform, runtimes), timeout_s=120)  # the duplicates too: none dead-lettered
        for topic in kcat_commands:
            spec = BY_NAME[topic]
            ids = {str(event.event_id) for _, event in examples_of(ROOT, spec)}
            for service in [c for c in spec.consumers if c in BY_SERVICE]:
                assert await _applied(platform, service, topic, ids)
