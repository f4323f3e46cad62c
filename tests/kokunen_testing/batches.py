"""Batch path versus one at a time: the same deliveries applied by a service's per-event handler and by its batch
handler (gathered per message, ``finish_batch`` per batch, as ``EventConsumer`` calls them), each way in a
transaction rolled back afterwards, and what each left read back by the caller's ``read``."""

from __future__ import annotations

import itertools
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
from kokunen_common.database_setup import BY_SERVICE
from kokunen_common.messaging import Delivery, UnitOfWork
from kokunen_common.outbox import OutboxBuffer

from .platform import Platform

Read = Callable[[asyncpg.Connection, OutboxBuffer], Awaitable[Any]]


async def assert_batches_equal_one_at_a_time(
    platform: Platform,
    service: str,
    *,
    one: Callable[[Delivery[Any], UnitOfWork], Awaitable[None]],
    batched: Any,
    deliveries: Sequence[Delivery[Any]],
    cuts: Sequence[int],
    read: Read,
) -> None:
    """What ``read`` finds after the deliveries one at a time equals what it finds after them in batches cut
    before each of ``cuts``."""
    conn = await platform.connect_as(service)
    try:
        expected, actual = await both_ways(
            conn,
            schema=BY_SERVICE[service].schema,
            one=one,
            batched=batched,
            deliveries=deliveries,
            cuts=cuts,
            read=read,
        )
    finally:
        await conn.close()
    assert actual == expected


async def both_ways(
    conn: asyncpg.Connection,
    *,
    schema: str,
    one: Callable[[Delivery[Any], UnitOfWork], Awaitable[None]],
    batched: Any,
    deliveries: Sequence[Delivery[Any]],
    cuts: Sequence[int],
    read: Read,
) -> tuple[Any, Any]:
    """(one at a time, in batches cut before each of ``cuts``): what ``read`` finds after each."""
    source = f"/kokunen/{schema}"
    tx = conn.transaction()
    await tx.start()
    try:
        outbox = OutboxBuffer(schema=schema, source=source)
        for delivery in deliveries:
            await one(delivery, UnitOfWork(conn, outbox))
        expected = await read(conn, outbox)
    finally:
        await tx.rollback()
    tx = conn.transaction()
    await tx.start()
    try:
        outbox = OutboxBuffer(schema=schema, source=source)
        bounds = [0, *(c for c in cuts if c < len(deliveries)), len(deliveries)]
        for start, end in itertools.pairwise(bounds):
            uow = UnitOfWork(conn, outbox, {})
            for delivery in deliveries[start:end]:
                await batched(delivery, uow)
            await batched.finish_batch(uow)
        actual = await read(conn, outbox)
    finally:
        await tx.rollback()
    return expected, actual


def announced(outbox: OutboxBuffer) -> dict[str, list[dict[str, Any]]]:
    """The events an outbox buffer holds, per topic and key in order, without their ``recorded_at`` (a clock)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for _event_id, topic, key, payload, _headers, _raw in outbox.rows:
        body = json.loads(payload)
        body.pop("recorded_at", None)
        out.setdefault(f"{topic}/{key}", []).append(body)
    return out
