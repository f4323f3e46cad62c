"""pytest fixtures: one real Kafka broker and PostgreSQL server per test session."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from .infra import Infra, acquire_infra
from .platform import Platform, prepare_platform


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    started = time.perf_counter()
    try:
        manager = acquire_infra()
        value = manager.__enter__()
    except Exception as exc:
        if os.environ.get("CI") == "true":
            raise  # in CI a server that cannot start is a failure, never a skip
        pytest.skip(f"no Kafka/PostgreSQL for integration tests: {exc}")
    value.facts["infra_start_seconds"] = round(time.perf_counter() - started, 1)
    print(f"\n[infra] {value.source}: kafka={value.kafka_bootstrap} {value.facts}")
    try:
        yield value
    finally:
        manager.__exit__(None, None, None)


@pytest.fixture(scope="session")
async def platform(infra: Infra) -> Platform:
    return await prepare_platform(infra)


@pytest.fixture(scope="session")
def _span_exporter() -> object:
    from kokunen_common.telemetry import configure_tracing
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    configure_tracing("kokunen-tests", processor=SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture
def spans(_span_exporter: object) -> object:
    """Spans finished during the test (one tracer provider for the whole session)."""
    _span_exporter.clear()  # type: ignore[attr-defined]
    return _span_exporter
