"""Consumers read every message strictly (issue 13, and issue 15 for dates): what the JSON Schema says is
what is accepted — repeated keys, coerced types, control characters and a wrong Kafka key are refused with
a reason that names the field, never the value."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from kokunen_contracts.counter import ExemptionApplicationSubmitted
from kokunen_contracts.envelope import EnvelopeError, envelope_headers
from kokunen_contracts.registry import RESIDENT_CHANGED, TOPICS, TopicSpec
from kokunen_contracts.residency import ResidentChanged
from kokunen_contracts.strict import CONTROL_FREE_PATTERN, STRICT_READING, BodyError, parse_body

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "residency.resident-changed.v1" / "death.json"


def body() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(EXAMPLE.read_text())
    return loaded


def refusal(data: bytes) -> BodyError:
    with pytest.raises(BodyError) as caught:
        parse_body(ResidentChanged, data)
    return caught.value


def test_a_repeated_object_key_is_refused_not_last_one_wins() -> None:
    text = EXAMPLE.read_text().replace('"reason": "death",', '"reason": "death", "reason": "alias",', 1)
    error = refusal(text.encode())
    assert error.kind == "duplicate_key"
    assert "'reason'" in str(error)


def test_a_repeated_key_in_a_nested_object_is_refused() -> None:
    text = EXAMPLE.read_text().replace('"kana": "ウラワ タロウ",', '"kana": "ウラワ タロウ", "kana": "X",', 1)
    assert refusal(text.encode()).kind == "duplicate_key"


def test_a_repeated_key_in_an_object_inside_a_list_is_refused_without_showing_a_number_it_names() -> None:
    text = EXAMPLE.read_text()[:-2] + ', "x": [{"a": 1}, {"123456789012": 1, "123456789012": 2}]}'
    error = refusal(text.encode())
    assert error.kind == "duplicate_key"
    assert "123456789012" not in str(error)


def test_a_body_that_is_not_json_is_malformed_even_where_a_key_repeats_before_the_error() -> None:
    text = EXAMPLE.read_text().replace('"reason": "death",', '"reason": "death", "reason": "alias",', 1)
    assert refusal(text[:-10].encode()).kind == "malformed_json"


def test_a_date_in_a_list_is_an_iso_string_and_the_reason_names_its_place() -> None:
    example = EXAMPLE.parents[1] / "counter.exemption-application-submitted.v1" / "exemption-with-job-loss.json"
    data = json.loads(example.read_text())
    data["job_losses"][0]["separated_on"] = 1727654400
    with pytest.raises(BodyError) as caught:
        parse_body(ExemptionApplicationSubmitted, json.dumps(data).encode())
    assert str(caught.value) == "job_losses.0.separated_on: a date is an ISO 8601 string (YYYY-MM-DD), not a number"


@pytest.mark.parametrize("value", ["true", 1, 0, "yes"])
def test_booleans_are_true_or_false_only(value: object) -> None:
    data = body()
    data["resident"]["processing_suspension"] = {"suspended": value}
    error = refusal(json.dumps(data).encode())
    assert error.kind == "validation"
    assert "resident.processing_suspension.suspended: Input should be a valid boolean" in str(error)


@pytest.mark.parametrize("value", [631152000, 631152000.0, "631152000", "1990-01-01T00:00:00", "1990/01/01"])
def test_a_date_is_an_iso_string_never_a_unix_time(value: object) -> None:
    data = body()
    data["resident"]["birth_date"] = value
    error = refusal(json.dumps(data).encode())
    assert error.kind == "validation"
    assert "resident.birth_date" in str(error)
    assert "631152000" not in str(error)


def test_a_date_time_is_an_iso_string_never_a_unix_time() -> None:
    data = body()
    data["recorded_at"] = "1700000000"
    error = refusal(json.dumps(data).encode())
    assert str(error) == "recorded_at: a date is an ISO 8601 string (YYYY-MM-DD), not a number"


@pytest.mark.parametrize("text", ["浦和\x00太郎", "浦和\n太郎", "浦和\x1b太郎", "浦和\x7f太郎", "浦和\x85太郎"])
def test_a_control_character_in_free_text_is_refused_naming_the_field(text: str) -> None:
    data = body()
    data["resident"]["name"]["name"] = text
    error = refusal(json.dumps(data).encode())
    assert error.kind == "control_character"
    assert str(error).startswith("resident.name.name: control character")


def test_a_control_character_in_an_ignored_extra_field_or_key_is_refused_too() -> None:
    data = body()
    data["resident"]["added_later"] = ["ok", "bad\x00"]
    assert refusal(json.dumps(data).encode()).kind == "control_character"
    data = body()
    data["x\x00"] = 1
    assert refusal(json.dumps(data).encode()).kind == "control_character"


def test_encoding_and_syntax_are_told_apart() -> None:
    assert refusal("浦和".encode("cp932")).kind == "encoding"
    assert refusal(b'{"event_id": ').kind == "malformed_json"
    assert refusal(b"[" * 100_000).kind == "malformed_json"


def test_the_golden_example_is_read_as_it_was() -> None:
    assert parse_body(ResidentChanged, EXAMPLE.read_bytes()) == ResidentChanged.model_validate_json(EXAMPLE.read_text())


def test_the_kafka_key_must_be_the_payloads_atena_number() -> None:
    event = ResidentChanged.model_validate_json(EXAMPLE.read_text())
    assert RESIDENT_CHANGED.key_problem(b"0001234567", event) is None
    assert "missing" in (RESIDENT_CHANGED.key_problem(None, event) or "")
    assert "missing" in (RESIDENT_CHANGED.key_problem(b"", event) or "")
    assert "differs from the payload's resident.atena_number" in (
        RESIDENT_CHANGED.key_problem(b"0001234568", event) or ""
    )


@pytest.mark.parametrize(
    ("headers", "rule"),
    [
        ([("ce_type", b"\xff\xfe")], "ce_type is not UTF-8"),
        ([("ce_id", b"a"), ("ce_id", b"b")], "ce_id is repeated"),
        ([("ce_source", None)], "ce_source has no value"),
        ([("ce_source", b"/up\x00stream")], "ce_source contains a control character"),
    ],
)
def test_envelope_headers_are_read_strictly(headers: list[tuple[str, bytes | None]], rule: str) -> None:
    with pytest.raises(EnvelopeError, match=rule):
        envelope_headers(headers)


def test_headers_that_are_not_ours_are_read_leniently() -> None:
    assert envelope_headers([("x-vendor", b"\xff"), ("x-none", None), ("x-vendor", b"b")]) == {"x-vendor": "b"}


SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"


def _strings(node: Any) -> list[dict[str, Any]]:
    """Every string-typed node of a schema (``anyOf`` branches of optional fields included)."""
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    if not isinstance(node, dict):
        return []
    found = [node] if node.get("type") == "string" else []
    return found + [s for value in node.values() for s in _strings(value)]


@pytest.mark.parametrize("spec", TOPICS, ids=lambda s: s.name)
def test_each_rule_of_strict_reading_is_in_the_committed_json_schema(spec: TopicSpec) -> None:
    """What consumers enforce, the schema a publisher validates against says: the rules in ``$comment``, the key
    field in ``x-key`` (a field of the payload), and no string that admits a control character."""
    schema = json.loads((SCHEMAS / f"{spec.name}.json").read_text())
    assert schema["$comment"] == STRICT_READING
    assert schema["x-key"] == spec.key_field
    node = schema
    for part in spec.key_field.split("."):
        node = node["properties"][part]
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]] if "$ref" in node else node
    assert node["type"] in ("string", "integer")  # the key is its text (a 年度 for the continuation runs)
    for string in _strings(schema):
        if "enum" in string or "const" in string or "format" in string:
            continue  # a closed list, or a date/time/uuid format: no control character fits either
        assert "pattern" in string, string
        for text in ("浦和\x00太郎", "浦和\n太郎", "\x1b[2J", "浦和\x7f", "浦和\x85"):
            assert re.search(string["pattern"], text) is None, (string, text)
    assert re.search(CONTROL_FREE_PATTERN, "浦和 太郎・ｳﾗﾜ 〒330-0061")  # ordinary text passes
