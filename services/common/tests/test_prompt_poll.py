"""A subscription takes fetched records at once and never sleeps after an empty poll (issue 12: faststream's batch
subscriber slept ``batch_timeout_ms`` after one, and a record arriving meanwhile waited out the sleep)."""

from __future__ import annotations

from typing import Any, cast

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from faststream.kafka import KafkaBroker
from faststream.kafka.subscriber.usecase import BatchSubscriber
from kokunen_common.messaging import POLL_WAIT_CAP_MS, EventConsumer
from kokunen_common.settings import ServiceSettings
from kokunen_contracts.registry import PERSON_CHANGED


class Fetched:
    """Stands in for aiokafka's consumer: ``getmany`` answers the batches given, in turn, and records its
    arguments."""

    def __init__(self, *answers: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]) -> None:
        self.answers = list(answers)
        self.calls: list[dict[str, Any]] = []

    async def getmany(self, *partitions: TopicPartition, **kwargs: Any) -> dict[Any, Any]:
        self.calls.append(kwargs)
        return self.answers.pop(0)


def record(partition: int, offset: int) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(PERSON_CHANGED.name, partition, offset, 0, 0, b"k", b"v", None, 1, 1, [])


async def test_a_subscription_polls_again_at_once_after_an_empty_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_sleep(seconds: float) -> None:
        raise AssertionError(f"slept {seconds} s after an empty poll")

    monkeypatch.setattr("faststream.kafka.subscriber.usecase.anyio.sleep", no_sleep)
    settings = ServiceSettings(consumer_fetch_max_wait_ms=700, consumer_max_records=50)
    broker = KafkaBroker()
    consumer = EventConsumer(
        service="eligibility",
        schema="eligibility",
        broker=broker,
        settings=settings,
        pool_provider=lambda: cast(Any, None),
    )

    async def handler(*_: Any) -> None:
        raise AssertionError("not called: only the polling is looked at")

    consumer.subscribe(PERSON_CHANGED, handler)
    (subscriber,) = cast(list[BatchSubscriber], broker.subscribers)
    batch = {
        TopicPartition(PERSON_CHANGED.name, 3): [record(3, 7), record(3, 8)],
        TopicPartition(PERSON_CHANGED.name, 5): [record(5, 1)],
    }
    fetched = Fetched({}, batch)
    polled: Any = fetched  # aiokafka's consumer, as far as get_msg is concerned

    assert await subscriber.get_msg(polled) == ()
    got = await subscriber.get_msg(polled)

    # Each poll waits for records up to the broker's idle hold but at most POLL_WAIT_CAP_MS (a rebalance waits for
    # polls in progress), a batch is what was fetched, in partition order.
    assert [(r.partition, r.offset) for r in got] == [(3, 7), (3, 8), (5, 1)]
    assert fetched.calls == [{"timeout_ms": POLL_WAIT_CAP_MS, "max_records": 50}] * 2
