"""Generate the committed contract documents from the models, and guard their compatibility.

- ``contracts/schemas/<topic>.json``: the JSON Schema of each topic's payload (current).
- ``contracts/schemas/history/<topic>/NNNN.json``: every schema a topic version has had, in order;
  each step must be compatible with the one before (see ``incompatibilities``).
- ``contracts/asyncapi.yaml``: the AsyncAPI 3.0 document of every topic, built from the registry.
- ``contracts/examples/<topic>/<name>.envelope.yaml``: beside each golden example ``<name>.json``, the Kafka key
  and CloudEvents headers it travels with (what kcat's ``-k`` and ``-H`` take).

``python -m kokunen_contracts.export --write`` regenerates (and refuses an incompatible change within a
version); ``--check`` exits non-zero on drift. Tests run the same checks.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

from . import __version__
from .envelope import (
    CONTENT_TYPE,
    H_ID,
    H_SOURCE,
    H_SPECVERSION,
    H_TIME,
    H_TRACEPARENT,
    H_TYPE,
    Event,
    cloudevent_headers,
)
from .registry import DLQ_PARTITIONS, TOPICS, TopicSpec, ce_source
from .strict import CONTROL_FREE_PATTERN, STRICT_READING

CONTRACTS_DIR = Path(__file__).resolve().parent.parent
SCHEMAS_DIR = CONTRACTS_DIR / "schemas"
HISTORY_DIR = SCHEMAS_DIR / "history"
ASYNCAPI_PATH = CONTRACTS_DIR / "asyncapi.yaml"
EXAMPLES_DIR = CONTRACTS_DIR / "examples"

JsonObj = dict[str, Any]


class StrictReadingSchema(GenerateJsonSchema):
    """JSON Schema of the contracts as consumers read them (``kokunen_contracts.strict``): every free-text
    string without a pattern of its own gets the control-character rule as a pattern."""

    def str_schema(self, schema: core_schema.StringSchema) -> JsonSchemaValue:
        result = super().str_schema(schema)
        if "pattern" not in result and "format" not in result:
            result["pattern"] = CONTROL_FREE_PATTERN
        return result


def payload_schema(spec: TopicSpec) -> JsonObj:
    schema = spec.model.model_json_schema(mode="validation", schema_generator=StrictReadingSchema)
    schema["$comment"] = STRICT_READING
    schema["$id"] = f"urn:kokunen:schema:{spec.name}"
    schema["x-topic"] = spec.name
    schema["x-event-type"] = spec.event_type
    schema["x-key"] = spec.key_field
    return schema


def dump_json(obj: JsonObj) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


# --- compatibility -----------------------------------------------------------------------------

# Documentation, free to change within a version: texts, and the Japanese labels of enum values (x-enum-labels).
_TEXT_KEYS = frozenset({"description", "title", "examples", "$comment", "$id", "x-enum-labels"})


def _resolve(node: Any, root: JsonObj) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/$defs/"):
            raise ValueError(f"unsupported $ref {ref}")
        node = root["$defs"][ref.removeprefix("#/$defs/")]
    return node


def _strip_text(node: Any, root: JsonObj) -> Any:
    node = _resolve(node, root)
    if isinstance(node, dict):
        return {
            k: _strip_text(v, root)
            for k, v in node.items()
            if k not in _TEXT_KEYS and k != "$defs" and not (k == "pattern" and v == CONTROL_FREE_PATTERN)
        }
    if isinstance(node, list):
        return [_strip_text(v, root) for v in node]
    return node


def incompatibilities(old: JsonObj, new: JsonObj) -> list[str]:
    """Why ``new`` cannot replace ``old`` under the same topic version (empty when it can).

    Both directions must hold, since old consumers read new messages and replay feeds old messages
    to new consumers: the required set stays the same, every kept property keeps its exact schema,
    and only optional properties may be added or removed (consumers ignore unknown fields).
    Descriptions, titles and enum labels may change freely.

    One tightening is acknowledged rather than compared: the control-character pattern on free text
    (``strict.CONTROL_FREE_PATTERN``, issue 13). No consumer could use such a value (PostgreSQL refuses a NUL;
    the other controls were never part of any upstream's character set); a replayed old message carrying one
    goes to the dead-letter topic with its field named, instead of failing deep in the database.
    """
    problems: list[str] = []

    def walk(o: Any, n: Any, path: str) -> None:
        o, n = _resolve(o, old), _resolve(n, new)
        if isinstance(o, dict) and isinstance(n, dict) and "properties" in o and "properties" in n:
            o_req, n_req = set(o.get("required", [])), set(n.get("required", []))
            problems.extend(f"{path}.{name}: was required, is no longer" for name in sorted(o_req - n_req))
            problems.extend(f"{path}.{name}: is newly required" for name in sorted(n_req - o_req))
            for name in sorted(set(o["properties"]) & set(n["properties"])):
                walk(o["properties"][name], n["properties"][name], f"{path}.{name}")
            rest_o = {k: v for k, v in o.items() if k not in ("properties", "required")}
            rest_n = {k: v for k, v in n.items() if k not in ("properties", "required")}
            if _strip_text(rest_o, old) != _strip_text(rest_n, new):
                problems.append(f"{path}: object constraints changed")
            return
        if _strip_text(o, old) != _strip_text(n, new):
            problems.append(f"{path}: schema changed ({_short(o, old)} → {_short(n, new)})")

    walk(old, new, "$")
    return problems


def _short(node: Any, root: JsonObj) -> str:
    text = json.dumps(_strip_text(node, root), ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."


# --- history -----------------------------------------------------------------------------------


def history_of(topic: str) -> list[Path]:
    folder = HISTORY_DIR / topic
    return sorted(folder.glob("*.json")) if folder.exists() else []


def history_problems() -> Iterator[str]:
    """Each consecutive pair of a topic's schema history must be compatible."""
    for spec in TOPICS:
        snapshots = history_of(spec.name)
        if not snapshots:
            yield f"{spec.name}: no schema history (run make contracts)"
        for before, after in itertools.pairwise(snapshots):
            for problem in incompatibilities(json.loads(before.read_text()), json.loads(after.read_text())):
                yield f"{spec.name}: {before.name} → {after.name}: {problem}"


# --- AsyncAPI ----------------------------------------------------------------------------------

_CE_HEADERS: JsonObj = {
    "type": "object",
    "description": "CloudEvents 1.0 attributes (Kafka binding, binary mode) and W3C trace context",
    "required": [H_ID, H_TYPE, H_SOURCE, H_TIME, H_SPECVERSION],
    "properties": {
        H_ID: {
            "type": "string",
            "format": "uuid",
            "description": "イベントID: equal to the body's event_id (dedupe key)",
        },
        H_TYPE: {"type": "string", "description": "イベント種別 (jp.kokunen.<domain>.<event>.v<N>)"},
        H_SOURCE: {"type": "string", "description": "発生元 (producing system)"},
        H_TIME: {"type": "string", "format": "date-time", "description": "記録日時"},
        H_SPECVERSION: {"type": "string", "const": "1.0", "description": "CloudEvents version"},
        "content-type": {"type": "string", "const": CONTENT_TYPE, "description": "content type"},
        H_TRACEPARENT: {"type": "string", "description": "W3C traceparent"},
        "tracestate": {"type": "string", "description": "W3C tracestate"},
    },
}

_DLQ_HEADERS: JsonObj = {
    "type": "object",
    "description": "The original headers plus why the message was dead-lettered",
    "properties": {
        "dlq_reason": {"type": "string", "description": "理由 (clear, specific, no personal data)"},
        "dlq_error_class": {
            "type": "string",
            "description": "error class: envelope, key, encoding, malformed_json, duplicate_key, control_character, "
            "validation, handler (its handler refused it), poison (delivered again and again without completing)",
        },
        "dlq_source_topic": {"type": "string", "description": "original topic"},
        "dlq_source_partition": {"type": "string", "description": "original partition"},
        "dlq_source_offset": {"type": "string", "description": "original offset"},
        "dlq_service": {"type": "string", "description": "service that rejected it"},
        "dlq_failed_at": {"type": "string", "format": "date-time", "description": "when"},
        "dlq_original_ref": {
            "type": "string",
            "format": "uuid",
            "description": "set when the original was too large to publish: the payload is its first 64 KiB, "
            "the whole original is the row with this id in the service's dead_letter store",
        },
        "dlq_original_size": {"type": "string", "description": "size of the original body in bytes (with ref)"},
    },
}


# What each message key is, by the key field's name (the key is never a My Number).
_KEY_NAMES = {
    "atena_number": "宛名番号 (atena number)",
    "basic_pension_number": "基礎年金番号 (basic pension number)",
    "year": "年度 (year of a batch run that concerns no one person: ADR 0050)",
    "batch_id": "移転バッチID (batch id: a batch-completed marker concerns no one person; ADR 0052)",
}


def _message_headers(spec: TopicSpec) -> JsonObj:
    """The CloudEvents headers of one topic: its exact ``ce_type``, not the pattern."""
    properties = dict(_CE_HEADERS["properties"])
    properties[H_TYPE] = {"type": "string", "const": spec.event_type, "description": "イベント種別 (event type)"}
    return {**_CE_HEADERS, "properties": properties}


def _key_description(spec: TopicSpec) -> str:
    field = spec.key_field.rsplit(".", 1)[-1]
    return f"required; equals the payload's {spec.key_field}, the {_KEY_NAMES[field]} (never My Number)"


def asyncapi_document() -> JsonObj:
    _, defs = models_json_schema(
        [(spec.model, "validation") for spec in TOPICS],
        ref_template="#/components/schemas/{model}",
        schema_generator=StrictReadingSchema,
    )
    schemas: JsonObj = dict(defs.get("$defs", {}))
    channels: JsonObj = {}
    operations: JsonObj = {}
    messages: JsonObj = {
        "DeadLetter": {
            "name": "DeadLetter",
            "title": "Dead letter",
            "summary": "The original bytes of a message a service could not accept, with the reason",
            "contentType": "application/octet-stream",
            "headers": _DLQ_HEADERS,
            "payload": {"type": "string", "format": "binary"},
        }
    }
    for spec in TOPICS:
        message_name = spec.model.__name__
        channel_id = spec.name.replace(".", "_")
        messages[message_name] = {
            "name": message_name,
            "title": message_name,
            "summary": spec.summary,
            "description": STRICT_READING,
            "contentType": CONTENT_TYPE,
            "headers": _message_headers(spec),
            "payload": {"$ref": f"#/components/schemas/{message_name}"},
            "bindings": {
                "kafka": {
                    "key": {
                        "type": "string",
                        "minLength": 1,
                        "description": _key_description(spec),
                        "x-equals-payload-field": spec.key_field,
                    },
                    "bindingVersion": "0.5.0",
                }
            },
        }
        channels[channel_id] = {
            "address": spec.name,
            "title": spec.name,
            "summary": spec.summary,
            "messages": {message_name: {"$ref": f"#/components/messages/{message_name}"}},
            "bindings": {
                "kafka": {
                    "topic": spec.name,
                    "partitions": spec.partitions,
                    "topicConfiguration": {"retention.ms": spec.retention()[0]},
                    "bindingVersion": "0.5.0",
                }
            },
        }
        channels[channel_id + "_dlq"] = {
            "address": spec.dlq,
            "title": spec.dlq,
            "summary": f"Dead letters of {spec.name}",
            "messages": {"DeadLetter": {"$ref": "#/components/messages/DeadLetter"}},
            "bindings": {
                "kafka": {
                    "topic": spec.dlq,
                    "partitions": DLQ_PARTITIONS,
                    "topicConfiguration": {"retention.ms": spec.retention()[1]},
                    "bindingVersion": "0.5.0",
                }
            },
        }
        for producer in spec.producers:
            operations[f"{producer}_sends_{channel_id}"] = {
                "action": "send",
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "summary": f"{producer} publishes {message_name}",
            }
        for consumer in spec.consumers:
            operations[f"{consumer}_receives_{channel_id}"] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "summary": f"{consumer} consumes {message_name}",
            }
            operations[f"{consumer}_dead_letters_{channel_id}"] = {
                "action": "send",
                "channel": {"$ref": f"#/channels/{channel_id}_dlq"},
                "summary": f"{consumer} dead-letters what it cannot accept from {spec.name}",
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "kokunen — 国民年金に関する事務 event contracts",
            "version": __version__,
            "description": "Topics between the residency, tax, eligibility and transfer-dispatch services. "
            "Generated from contracts/kokunen_contracts (do not edit by hand).",
        },
        "defaultContentType": CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


def asyncapi_yaml() -> str:
    return yaml.safe_dump(asyncapi_document(), allow_unicode=True, sort_keys=True, width=120)


# --- write / check -----------------------------------------------------------------------------


ENVELOPE_SUFFIX = ".envelope.yaml"


def example_envelope(spec: TopicSpec, event: Event) -> str:
    """The key and headers a golden example travels with, as its ``.envelope.yaml`` beside it."""
    headers = {name: value.decode() for name, value in cloudevent_headers(event, source=ce_source(spec.producers[0]))}
    head = "# The Kafka key and CloudEvents headers (binary mode) this example travels with (`make contracts`)\n"
    return head + yaml.safe_dump({"key": spec.key_of(event), "headers": headers}, sort_keys=False, allow_unicode=True)


def example_envelopes() -> dict[Path, str]:
    """Every golden example's envelope file and its text."""
    found = {}
    for spec in TOPICS:
        for path in sorted((EXAMPLES_DIR / spec.name).glob("*.json")):
            event = spec.model.model_validate_json(path.read_bytes())
            found[path.with_name(path.stem + ENVELOPE_SUFFIX)] = example_envelope(spec, event)
    return found


def drift() -> list[str]:
    """Files that differ from what the models generate."""
    problems = []
    envelopes = example_envelopes()
    for path, text in envelopes.items():
        if not path.exists() or path.read_text() != text:
            problems.append(f"{path.relative_to(CONTRACTS_DIR)} is out of date")
    problems += [
        f"{path.relative_to(CONTRACTS_DIR)} has no example beside it"
        for path in EXAMPLES_DIR.glob(f"*/*{ENVELOPE_SUFFIX}")
        if path not in envelopes
    ]
    for spec in TOPICS:
        path = SCHEMAS_DIR / f"{spec.name}.json"
        generated = dump_json(payload_schema(spec))
        if not path.exists() or path.read_text() != generated:
            problems.append(f"{path.relative_to(CONTRACTS_DIR)} is out of date")
        history = history_of(spec.name)
        if not history or history[-1].read_text() != generated:
            problems.append(f"schema history of {spec.name} does not end with the current schema")
    if not ASYNCAPI_PATH.exists() or ASYNCAPI_PATH.read_text() != asyncapi_yaml():
        problems.append("asyncapi.yaml is out of date")
    return problems


def write() -> list[str]:
    """Regenerate every document; refuse (and write nothing for it) an incompatible change."""
    refused = []
    for spec in TOPICS:
        schema = payload_schema(spec)
        text = dump_json(schema)
        history = history_of(spec.name)
        if history and history[-1].read_text() != text:
            problems = incompatibilities(json.loads(history[-1].read_text()), schema)
            if problems:
                refused.append(
                    f"{spec.name}: incompatible change within v{spec.version}; publish it as a new "
                    f"topic version instead:\n  - " + "\n  - ".join(problems)
                )
                continue
        if not history or history[-1].read_text() != text:
            folder = HISTORY_DIR / spec.name
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{len(history) + 1:04d}.json").write_text(text)
        SCHEMAS_DIR.mkdir(parents=True, exist_ok=True)
        (SCHEMAS_DIR / f"{spec.name}.json").write_text(text)
    ASYNCAPI_PATH.write_text(asyncapi_yaml())
    for path in EXAMPLES_DIR.glob(f"*/*{ENVELOPE_SUFFIX}"):
        path.unlink()
    for path, envelope in example_envelopes().items():
        path.write_text(envelope)
    return refused


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="regenerate the committed documents")
    parser.add_argument("--check", action="store_true", help="fail on drift or incompatible history")
    args = parser.parse_args(argv)
    if args.write:
        refused = write()
        for message in refused:
            print(message, file=sys.stderr)
        return 1 if refused else 0
    problems = drift() + list(history_problems())
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
