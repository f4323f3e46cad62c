"""Scale-out (issue 12): two instances of each stream service in one consumer group share the partitions of the
topic it reads; one instance of each is killed (SIGKILL) mid-stream and the other takes its partitions over — every
国外転入 reaches dispatch as exactly one kept qualification change, nothing lost, nothing doubled.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import date

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from aiokafka.errors import KafkaError
from kokunen_contracts.registry import PERSON_CHANGED, QUALIFICATION_CHANGED, RESIDENT_CHANGED, TopicSpec
from kokunen_contracts.residency import Address, ChangeReason
from kokunen_testing.factories import change, resident
from kokunen_testing.platform import Platform, eventually, unique_atena

pytestmark = pytest.mark.integration

CHAIN: dict[str, TopicSpec] = {
    "residency_sync": RESIDENT_CHANGED,
    "eligibility": PERSON_CHANGED,
    "transfer_dispatch": QUALIFICATION_CHANGED,
}
"""Each service (its consumer group) and the topic of the chain it reads."""
ROUNDS, PER_ROUND = 6, 60


def start(platform: Platform, service: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, **platform.service_env(service), "CONSUMER_MAX_RECORDS": "50"}
    return subprocess.Popen([sys.executable, "-m", service, "run"], env=env)


async def members_holding(platform: Platform, group: str, topic: str) -> int:
    """How many members of ``group`` have partitions of ``topic`` assigned."""
    admin = AIOKafkaAdminClient(bootstrap_servers=platform.bootstrap)
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([group])
    except KafkaError:  # the group coordinator may not be elected yet on a fresh broker
        return 0
    finally:
        await admin.close()
    holding = 0
    for description in response.groups:
        for member in description[5]:
            assignment = member[4]
            if not assignment:
                continue
            decoded = ConsumerProtocolMemberAssignment.decode(assignment)
            holding += any(t == topic and partitions for t, partitions in decoded.assignment)
    return holding


async def counts(platform: Platform, atenas: list[str]) -> dict[str, int]:
    admin = await platform.admin()
    try:
        row = await admin.fetchrow(
            """SELECT
                 (SELECT count(*) FROM residency.person_version WHERE atena_number = ANY($1::text[])) AS versions,
                 (SELECT count(*) FROM residency.outbox
                   WHERE topic = 'residency.person-changed.v1' AND message_key = ANY($1::text[])) AS person_changes,
                 (SELECT count(*) FROM eligibility.outbox
                   WHERE topic = 'eligibility.qualification-changed.v1' AND message_key = ANY($1::text[]))
                   AS qualification_changes,
                 (SELECT count(*) FROM dispatch.qualification_change WHERE atena_number = ANY($1::text[])) AS kept,
                 (SELECT count(DISTINCT atena_number) FROM dispatch.qualification_change
                   WHERE atena_number = ANY($1::text[])) AS persons_kept""",
            atenas,
        )
        return dict(row)
    finally:
        await admin.close()


async def test_two_instances_share_the_stream_and_one_killed_mid_stream_loses_and_doubles_nothing(
    platform: Platform,
) -> None:
    atenas = [unique_atena() for _ in range(ROUNDS * PER_ROUND)]
    moves = [
        change(
            ChangeReason.MOVE_IN_FROM_ABROAD,
            resident(a, birth_date=date(1990, 4, 2), moved_in_from=Address(text="Paris", country_code="FR")),
            date(2026, 10, 1),
        )
        for a in atenas
    ]
    doomed = {service: start(platform, service) for service in CHAIN}
    survivors = {service: start(platform, service) for service in CHAIN}
    try:
        for service, spec in CHAIN.items():
            # Both instances hold partitions of the topic they read (one group: the service's name).
            await eventually(
                lambda s=service, t=spec.name: _at_least(members_holding(platform, s, t), 2), timeout_s=180
            )

        for n in range(ROUNDS):
            await platform.publish(RESIDENT_CHANGED, moves[n * PER_ROUND : (n + 1) * PER_ROUND])
            if n == 1:
                # Mid-stream: wait until the chain is working on the first rounds, then kill one of each.
                await eventually(
                    lambda: _at_least(_count(counts(platform, atenas), "versions"), PER_ROUND), timeout_s=180
                )
                for process in doomed.values():
                    process.send_signal(signal.SIGKILL)
                for process in doomed.values():
                    await asyncio.to_thread(process.wait, 30)

        async def all_kept() -> bool:
            return (await counts(platform, atenas))["persons_kept"] == len(atenas)

        await eventually(all_kept, timeout_s=420, interval_s=1.0)
        # Let any redelivery after the takeover run its course before counting doubles.
        for service, spec in CHAIN.items():
            await eventually(lambda s=service, t=spec.name: _at_least(members_holding(platform, s, t), 1), timeout_s=60)
        await asyncio.sleep(3)
        final = await counts(platform, atenas)
    finally:
        for process in [*doomed.values(), *survivors.values()]:
            if process.poll() is None:
                process.terminate()
        for process in [*doomed.values(), *survivors.values()]:
            try:
                await asyncio.to_thread(process.wait, 30)
            except subprocess.TimeoutExpired:
                process.kill()

    everyone = len(atenas)
    assert final == {
        "versions": everyone,
        "person_changes": everyone,
        "qualification_changes": everyone,
        "kept": everyone,
        "persons_kept": everyone,
    }


async def _count(pending: object, key: str) -> int:
    values = await pending  # type: ignore[misc]
    return int(values[key])


async def _at_least(pending: object, at_least: int) -> bool:
    return int(await pending) >= at_least  # type: ignore[misc]
