"""The contracts are the API: committed documents match the models, versions stay compatible,
golden examples keep parsing, and identifiers are validated exactly as the law says."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from kokunen_contracts import export
from kokunen_contracts.identifiers import InvalidMyNumber, MyNumber, my_number_check_digit, validate_my_number
from kokunen_contracts.registry import TOPIC_NAME, TOPICS
from kokunen_contracts.residency import ResidentChanged
from kokunen_contracts.strict import CONTROL_FREE_PATTERN, parse_body
from kokunen_contracts.transfer import TransferBatchCompleted
from pydantic import ValidationError

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
EXAMPLES = export.EXAMPLES_DIR


# --- 個人番号 (番号法施行令8条) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "check"),
    [
        ("12345678901", 8),  # the domain brief's worked example
        ("00000000000", 0),  # r = 0 → 0
        ("00000000001", 9),  # P1=1, Q1=2 → r=2 → 11−2
        ("10000000000", 5),  # P11=1, Q11=6 → r=6 → 5
        ("00000100000", 4),  # P6=1, Q6=7 → r=7 → 4
    ],
)
def test_check_digit_follows_the_ordinance(base: str, check: int) -> None:
    assert my_number_check_digit(base) == check


def test_check_digit_weights_restart_at_the_seventh_digit_from_the_right() -> None:
    # n = 7 → Q = n − 5 = 2, so a 1 in the 7th place from the right weighs as much as one in the 1st.
    assert my_number_check_digit("00001000000") == my_number_check_digit("00000000001") == 9


def test_remainder_one_gives_check_digit_zero() -> None:
    # P3 = 3 with Q3 = 4: r = 12 mod 11 = 1 → check digit 0 (not 11 − 1).
    assert my_number_check_digit("00000000300") == 0


@pytest.mark.parametrize("valid", ["123456789018", "000000000000", "000000000019"])
def test_valid_my_numbers_are_accepted(valid: str) -> None:
    assert validate_my_number(valid) == valid


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("123456789012", "check digit"),
        ("12345678901", "12 ASCII digits"),
        ("1234567890188", "12 ASCII digits"),
        ("１２３４５６７８９０１８", "12 ASCII digits"),  # full-width digits are not ASCII
        ("12345678901a", "12 ASCII digits"),
        ("", "12 ASCII digits"),
    ],
)
def test_invalid_my_numbers_are_refused_without_echoing_them(value: str, rule: str) -> None:
    with pytest.raises(InvalidMyNumber) as caught:
        validate_my_number(value)
    assert rule in str(caught.value)
    if value:
        assert value not in str(caught.value)


def test_my_number_is_masked_when_printed() -> None:
    number = MyNumber("123456789018")
    assert "123456789018" not in repr(number)
    assert "123456789018" not in f"{number}"
    assert number.reveal() == "123456789018"


def test_a_bad_my_number_in_an_event_gives_an_error_that_does_not_contain_it() -> None:
    from kokunen_common.errors import describe_validation_error

    body = json.loads((EXAMPLES / "residency.resident-changed.v1" / "death.json").read_text())
    body["resident"]["my_number"] = "123456789012"
    with pytest.raises(ValidationError) as caught:
        ResidentChanged.model_validate(body)
    reason = describe_validation_error(caught.value)
    assert "resident.my_number" in reason
    assert "check digit" in reason
    assert "123456789012" not in reason


# --- registry ------------------------------------------------------------------------------------


def test_topic_names_carry_domain_event_and_version() -> None:
    for spec in TOPICS:
        assert TOPIC_NAME.match(spec.name), spec.name
        assert spec.dlq == f"{spec.name}.dlq"
        assert spec.event_type.endswith(spec.name.split(".", 1)[1])


def test_every_topic_is_keyed_by_the_atena_number_never_my_number() -> None:
    for spec in TOPICS:
        assert "my_number" not in spec.key_field
        # A batch run a service records for its own replay (ADR 0050) concerns no one person.
        run_record = spec.producers == spec.consumers and "atena_number" not in spec.model.model_fields
        if run_record:
            assert spec.key_field == "year", spec.name  # the runs of one year stay in order
        elif issubclass(spec.model, TransferBatchCompleted):
            # A batch's completion marker concerns no one person (ADR 0052): one partition, keyed by the batch.
            assert (spec.key_field, spec.partitions) == ("batch_id", 1), spec.name
        elif spec.domain != "transfer" or "atena_number" in spec.model.model_fields:
            assert spec.key_field.endswith("atena_number"), spec.name
        else:
            # A departmental transfer whose policy allows no 宛名番号 (移転1, 移転2): the 基礎年金番号 is its key.
            assert spec.key_field == "basic_pension_number", spec.name


def test_every_schema_field_is_described_with_its_japanese_name() -> None:
    def properties(schema: dict) -> list[tuple[str, dict]]:
        found = list(schema.get("properties", {}).items())
        for definition in schema.get("$defs", {}).values():
            found += list(definition.get("properties", {}).items())
        return found

    for spec in TOPICS:
        for name, prop in properties(export.payload_schema(spec)):
            assert JAPANESE.search(prop.get("description", "")), f"{spec.name}.{name} lacks a Japanese description"


# --- committed documents -------------------------------------------------------------------------


def test_committed_schemas_and_asyncapi_match_the_models() -> None:
    assert export.drift() == [], "run `make contracts` and commit the result"


def test_schema_history_of_every_version_is_compatible() -> None:
    assert list(export.history_problems()) == []


def test_asyncapi_document_names_every_topic_and_dead_letter_topic() -> None:
    document = yaml.safe_load(export.ASYNCAPI_PATH.read_text())
    assert document["asyncapi"] == "3.0.0"
    addresses = {channel["address"] for channel in document["channels"].values()}
    for spec in TOPICS:
        assert {spec.name, spec.dlq} <= addresses
        assert document["channels"][spec.name.replace(".", "_")]["bindings"]["kafka"]["partitions"] == spec.partitions


# --- compatibility rules -------------------------------------------------------------------------


def _schema(topic: str) -> dict:
    return json.loads((export.SCHEMAS_DIR / f"{topic}.json").read_text())


def test_adding_an_optional_field_is_compatible() -> None:
    old = _schema("eligibility.qualification-changed.v1")
    new = copy.deepcopy(old)
    new["properties"]["note"] = {"type": "string", "description": "備考"}
    assert export.incompatibilities(old, new) == []


def test_rewording_a_description_is_compatible() -> None:
    old = _schema("eligibility.qualification-changed.v1")
    new = copy.deepcopy(old)
    new["properties"]["lost_on"]["description"] = "資格喪失日 (reworded)"
    assert export.incompatibilities(old, new) == []


def test_the_control_character_rule_is_an_acknowledged_tightening_and_nothing_else_is() -> None:
    old = _schema("eligibility.jps-report-due.v1")
    new = copy.deepcopy(old)
    for node in (old["properties"]["note"]["anyOf"][0], new["properties"]["note"]["anyOf"][0]):
        node.pop("pattern", None)
    new["properties"]["note"]["anyOf"][0]["pattern"] = CONTROL_FREE_PATTERN
    assert export.incompatibilities(old, new) == []
    new["properties"]["note"]["anyOf"][0]["pattern"] = "^[a-z]*$"
    assert export.incompatibilities(old, new) != []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda s: s["required"].append("note") or s["properties"].update(note={"type": "string"}), "newly required"),
        (lambda s: s["required"].remove("atena_number"), "no longer"),
        (lambda s: s["properties"]["acquired_on"].update(format="date-time"), "acquired_on: schema changed"),
        (lambda s: s["$defs"]["LossReason"]["enum"].append("eloped"), "loss_reason: schema changed"),
        (lambda s: s["$defs"]["LossReason"]["enum"].remove("death"), "loss_reason: schema changed"),
    ],
    ids=["new-required-field", "required-removed", "type-changed", "enum-value-added", "enum-value-removed"],
)
def test_breaking_changes_are_caught(change, expected: str) -> None:
    old = _schema("eligibility.qualification-changed.v1")
    new = copy.deepcopy(old)
    change(new)
    problems = export.incompatibilities(old, new)
    assert any(expected in p for p in problems), problems


def test_write_refuses_an_incompatible_change_within_a_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    history = tmp_path / "history"
    topic = "eligibility.qualification-changed.v1"
    (history / topic).mkdir(parents=True)
    old = _schema(topic)
    old["required"] = [*old["required"], "legacy_field"]
    old["properties"]["legacy_field"] = {"type": "string"}
    (history / topic / "0001.json").write_text(export.dump_json(old))
    for other in TOPICS:
        if other.name != topic:
            (history / other.name).mkdir(parents=True)
            (history / other.name / "0001.json").write_text(export.dump_json(export.payload_schema(other)))
    monkeypatch.setattr(export, "HISTORY_DIR", history)
    monkeypatch.setattr(export, "SCHEMAS_DIR", tmp_path)
    monkeypatch.setattr(export, "ASYNCAPI_PATH", tmp_path / "asyncapi.yaml")
    refused = export.write()
    assert len(refused) == 1
    assert "legacy_field" in refused[0]
    assert "new topic version" in refused[0]
    assert not (tmp_path / f"{topic}.json").exists()


# --- golden examples -----------------------------------------------------------------------------


@pytest.mark.parametrize("spec", TOPICS, ids=lambda s: s.name)
def test_every_published_version_has_golden_examples_that_still_parse(spec) -> None:
    examples = sorted((EXAMPLES / spec.name).glob("*.json"))
    assert examples, f"no golden example for {spec.name}"
    schema = export.payload_schema(spec)
    for path in examples:
        text = path.read_text()
        event = spec.model.model_validate_json(text)  # producer mode: no unknown fields either
        assert event.event_id
        assert parse_body(spec.model, text.encode()) == event  # consumers read it strictly, to the same event
        jsonschema.validate(json.loads(text), schema)  # and the exported schema agrees


def test_consumers_tolerate_an_additive_field_producers_do_not() -> None:
    body = json.loads((EXAMPLES / "residency.resident-changed.v1" / "death.json").read_text())
    body["resident"]["future_field"] = "x"
    with pytest.raises(ValidationError):
        ResidentChanged.model_validate(body)
    assert ResidentChanged.model_validate(body, extra="ignore").reason.value == "death"
