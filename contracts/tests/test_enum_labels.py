"""Every enumerated value in every topic's JSON Schema carries its Japanese label (x-enum-labels)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kokunen_contracts.registry import TOPICS
from kokunen_contracts.residency import ChangeReason

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def enums(node: Any, path: str = "$") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if "enum" in node and node.get("type") == "string":
            yield path, node
        for key, value in node.items():
            yield from enums(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from enums(value, f"{path}[{i}]")


@pytest.mark.parametrize("topic", [spec.name for spec in TOPICS])
def test_every_enum_value_has_a_japanese_label(topic: str) -> None:
    schema = json.loads((SCHEMAS / f"{topic}.json").read_text())
    found = list(enums(schema))
    for path, node in found:
        labels = node.get("x-enum-labels", {})
        assert set(labels) == set(node["enum"]), f"{topic} {path}: values without a label"
        assert all(JAPANESE.search(label) for label in labels.values()), f"{topic} {path}: {labels}"


def test_a_label_is_documentation_the_wire_carries_the_value() -> None:
    assert ChangeReason.DEATH.label == "死亡"
    assert ChangeReason("death") is ChangeReason.DEATH
    assert json.dumps(ChangeReason.DEATH) == '"death"'
    assert any(list(enums(json.loads((SCHEMAS / f"{spec.name}.json").read_text()))) for spec in TOPICS)
