"""Readiness on the real stack: a service whose database goes away stops being ready, and is ready
again when it comes back, while it stays alive throughout; a service whose background job ended is not ready,
and not alive either (nothing in the process restarts the job: the kubelet restarts the pod)."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from kokunen_common.service import ServiceDefinition, ServiceRuntime
from kokunen_testing.infra import load_localstack
from kokunen_testing.platform import Platform, eventually

pytestmark = pytest.mark.integration


def probe(port: int, path: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=15) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


async def test_readiness_follows_the_database_and_liveness_does_not(platform: Platform) -> None:
    if platform.infra.stop_database is None or platform.infra.start_database is None:
        pytest.skip(f"PostgreSQL comes from {platform.infra.source}: this test can only stop one it started")
    port = load_localstack().free_port()

    async def readiness(expected: int) -> dict[str, Any] | None:
        status, body = await asyncio.to_thread(probe, port, "/readyz")
        return body if status == expected else None

    async with platform.build("residency_sync", metrics_port=port, readiness_timeout_s=1.0):
        ready = await eventually(lambda: readiness(200), timeout_s=90)
        assert ready["checks"] == {"database": "ok", "broker": "ok", "partitions": "ok", "outbox_relay": "ok"}

        await asyncio.to_thread(platform.infra.stop_database)
        try:
            down = await eventually(lambda: readiness(503), timeout_s=60)
            assert down["status"] == "not ready"
            assert down["checks"]["database"].startswith("PostgreSQL is not reachable")
            assert down["checks"]["broker"] == "ok"
            assert (await asyncio.to_thread(probe, port, "/livez"))[0] == 200
        finally:
            await asyncio.to_thread(platform.infra.start_database)
        await eventually(lambda: readiness(200), timeout_s=90)


async def test_a_service_whose_background_job_ended_is_not_ready_nor_alive(platform: Platform) -> None:
    """The counter's pages, eligibility's calendar and tax_sync's file relay run beside the consumers: one that
    ended (here: failed at once) must not leave the service answering ready."""
    schema = "jobs_probe"

    async def web_pages(runtime: ServiceRuntime, stop: asyncio.Event) -> None:
        raise OSError("address already in use")

    definition = ServiceDefinition(name=schema, schema=schema, migrations_dir=Path("."), background_jobs=[web_pages])
    port = load_localstack().free_port()
    settings = platform.settings("residency_sync", database_url=platform.infra.admin_db_url, metrics_port=port)
    async with platform.probe_schema(schema):
        runtime = ServiceRuntime(definition, settings)
        await runtime.start(consumers=False)
        try:

            async def job_ended() -> str | None:
                return (await runtime.readiness())["background_jobs"]

            assert await eventually(job_ended, timeout_s=30) == "ended: web_pages"
            status, body = await asyncio.to_thread(probe, port, "/livez")
            assert (status, body) == (503, {"status": "dead", "reason": "background task ended: web_pages"})
        finally:
            await runtime.stop()
