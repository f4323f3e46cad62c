"""What every consumer pays per message it reads, in process (no servers): the strict contract reading
(``decode_record``: envelope, body, key) and the consumer span (``ProcessSpan``), for each topic consumed along
residency_sync → eligibility → transfer_dispatch (a resident change is read five times on the way: issue 12).
Baseline: ``json.loads`` of the same bodies, which checks none of the rules.

CPU time of this thread, the median of rounds of interleaved calls: a figure the machine's other load moves less
than a wall clock. ``python tests/bench/scenarios/read_costs.py`` prints the same without `make bench`.
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import yaml
from aiokafka import ConsumerRecord

HERE = Path(__file__).resolve().parent
if __name__ == "__main__":  # run alone: the bench's own imports
    sys.path[:0] = [str(HERE.parent.parent), str(HERE.parent)]

from harness import BenchContext, Figure, scenario  # noqa: E402
from kokunen_common.messaging import _Accepted, decode_record  # noqa: E402
from kokunen_common.service import GC_THRESHOLDS  # noqa: E402
from kokunen_common.telemetry import ProcessSpan, configure_tracing  # noqa: E402
from kokunen_contracts.envelope import cloudevent_headers  # noqa: E402
from kokunen_contracts.registry import (  # noqa: E402
    JPS_REPORT_DUE,
    PERSON_CHANGED,
    QUALIFICATION_CHANGED,
    RESIDENT_CHANGED,
    TopicSpec,
)
from kokunen_contracts.residency import Address, ChangeReason  # noqa: E402
from kokunen_contracts.strict import check_json, parse_body  # noqa: E402
from kokunen_testing.factories import change, resident  # noqa: E402
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult  # noqa: E402

EXAMPLES = HERE.parents[2] / "contracts" / "examples"
TRACEPARENT = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
CALLS = 300
ROUNDS = 31

# Each consumed topic of the chain, how many times a resident change is read on it, and a body as it travels.
CHAIN: list[tuple[TopicSpec, int, str | None]] = [
    (RESIDENT_CHANGED, 1, None),  # the pipeline bench's 国外転入, built below
    (PERSON_CHANGED, 2, "residency.person-changed.v1/household-member"),  # eligibility and transfer_dispatch
    (QUALIFICATION_CHANGED, 1, "eligibility.qualification-changed.v1/lost-by-death"),
    (JPS_REPORT_DUE, 1, "eligibility.jps-report-due.v1/qualification-acquisition"),
]


Record = ConsumerRecord[bytes, bytes]


def _record(spec: TopicSpec, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> Record:
    return ConsumerRecord(
        topic=spec.name,
        partition=3,
        offset=123_456,
        timestamp=0,
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=len(key),
        serialized_value_size=len(value),
        headers=[*headers, ("traceparent", TRACEPARENT)],
    )


def chain_records() -> list[tuple[TopicSpec, int, Record]]:
    records = []
    for spec, reads, example in CHAIN:
        if example is None:
            person = resident("0001234567", birth_date=date(1985, 6, 15), moved_in_from=Address(text="Paris"))
            event = change(ChangeReason.MOVE_IN_FROM_ABROAD, person, date(2026, 11, 2))
            key, value = spec.key_of(event).encode(), event.model_dump_json().encode()
            headers = cloudevent_headers(event, source="/bench/jumin-kiroku")
        else:
            envelope = yaml.safe_load((EXAMPLES / f"{example}.envelope.yaml").read_text())
            key, value = envelope["key"].encode(), (EXAMPLES / f"{example}.json").read_bytes()
            headers = [(name, str(text).encode()) for name, text in envelope["headers"].items()]
        records.append((spec, reads, _record(spec, key, value, headers)))
    return records


def cpu_us(call: Callable[[], object]) -> float:
    """Median CPU µs per call over ``ROUNDS`` rounds of ``CALLS`` calls."""
    rounds = []
    for _ in range(ROUNDS):
        started = time.thread_time_ns()
        for _ in range(CALLS):
            call()
        rounds.append((time.thread_time_ns() - started) / CALLS / 1000)
    return statistics.median(rounds)


class _Discard(SpanExporter):
    def export(self, spans: object) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def measure() -> list[Figure]:
    # As a service with an OTLP endpoint: every span goes through a BatchSpanProcessor (here to nowhere); and
    # the services' garbage-collector thresholds (a span leaves garbage that collections would scan).
    configure_tracing("bench-read-costs", exporter=_Discard())
    thresholds = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        return _measure()
    finally:
        gc.set_threshold(*thresholds)


def _measure() -> list[Figure]:
    figures = []
    strict_total = span_total = raw_total = 0.0
    for spec, reads, record in chain_records():
        decoded = decode_record(spec, record)
        assert isinstance(decoded, _Accepted), decoded
        value = record.value or b""
        attributes: dict[str, str | int] = {
            "messaging.system": "kafka",
            "messaging.destination.name": spec.name,
            "messaging.operation.type": "process",
            "messaging.consumer.group.name": "bench",
            "messaging.message.id": str(decoded.delivery.event_id),
            "messaging.kafka.destination.partition": record.partition,
            "messaging.kafka.offset": record.offset,
        }

        def span(decoded: _Accepted = decoded, attributes: dict[str, str | int] = attributes) -> None:
            with ProcessSpan("bench process", decoded.headers, attributes):
                pass

        stages = {
            "decode_record_us": cpu_us(lambda spec=spec, record=record: decode_record(spec, record)),
            "body_us": cpu_us(lambda spec=spec, value=value: parse_body(spec.model, value)),
            "json_rules_us": cpu_us(lambda value=value: check_json(value)),
            "pydantic_strict_us": cpu_us(
                lambda spec=spec, value=value: spec.model.__pydantic_validator__.validate_json(
                    value, strict=True, extra="ignore"
                )
            ),
            "consumer_span_us": cpu_us(span),
            "json_loads_us": cpu_us(lambda value=value: json.loads(value)),
        }
        strict_total += reads * stages["decode_record_us"]
        span_total += reads * stages["consumer_span_us"]
        raw_total += reads * stages["json_loads_us"]
        figures.append(
            Figure(
                "read-costs",
                f"strict read {spec.name}",
                1_000_000,
                stages["decode_record_us"],  # µs per read = seconds per million reads
                baseline="json.loads, same bodies",
                baseline_seconds=stages["json_loads_us"],
                notes={"bytes": len(value), "reads_per_change": reads, **{k: round(v, 1) for k, v in stages.items()}},
            )
        )
    figures.append(
        Figure(
            "read-costs",
            "5 reads + 5 spans per change",
            1_000_000,
            strict_total + span_total,
            baseline="json.loads ×5",
            baseline_seconds=raw_total,
            notes={"strict_reads_us": round(strict_total, 1), "consumer_spans_us": round(span_total, 1)},
        )
    )
    return figures


@scenario("read-costs")
async def read_costs(ctx: BenchContext) -> list[Figure]:
    return measure()


if __name__ == "__main__":
    for figure in measure():
        print(f"{figure.what:<48} {figure.seconds:7.1f} µs (json.loads {figure.baseline_seconds:.1f})  {figure.notes}")
