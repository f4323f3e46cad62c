"""The hostile corpus: for every topic our services consume, a valid message (a golden example under a fresh
event id and 宛名番号) mutated in its key, its headers and its body, each with the outcome it must have —
``applied`` or the dead-letter class it must be refused with.

Mutations are written once and applied to every topic; the few that need a field of a given JSON type (a
boolean, an integer, a text) find one in the example and are skipped where the topic has none.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kokunen_contracts.envelope import cloudevent_headers
from kokunen_contracts.registry import TopicSpec
from kokunen_testing.platform import unique_atena

EXAMPLES = Path(__file__).resolve().parents[2] / "contracts" / "examples"

Headers = list[tuple[str, bytes | None]]


@dataclass
class Message:
    """One record to send: key, body and headers as bytes, exactly as they go on the wire."""

    key: bytes | None
    value: bytes | None
    headers: Headers
    event_id: uuid.UUID
    body: dict[str, Any]


@dataclass
class Case:
    topic: TopicSpec
    name: str
    expected: str  # "applied" or the dead-letter class
    message: Message


def _set_path(body: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = body
    for part in parents:
        node = node[part]
    node[last] = value


def valid_message(spec: TopicSpec) -> Message:
    """A golden example of ``spec`` as a new event: fresh event id, fresh key."""
    example = sorted((EXAMPLES / spec.name).glob("*.json"))[0]
    body = _fresh_ids(json.loads(example.read_text()), {})
    event_id = uuid.uuid4()
    body["event_id"] = str(event_id)
    key = unique_atena()
    _set_path(body, spec.key_field, key)
    event = spec.model.model_validate(body)
    headers: Headers = list(cloudevent_headers(event, source="/hostile/upstream"))
    return Message(key.encode(), json.dumps(body, ensure_ascii=False).encode(), headers, event_id, body)


_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _fresh_ids(node: Any, renamed: dict[str, str], name: str = "") -> Any:
    """The example with every identifier new (UUIDs, change ids, 基礎年金番号), the same one for the same
    old value: cases must not share a period, report or change with each other or with other tests."""
    if isinstance(node, dict):
        return {k: _fresh_ids(v, renamed, k) for k, v in node.items()}
    if isinstance(node, list):
        return [_fresh_ids(v, renamed, name) for v in node]
    if isinstance(node, str) and (_UUID.match(node) or name.endswith("change_id") or name == "basic_pension_number"):
        if node not in renamed:
            if _UUID.match(node):
                renamed[node] = str(uuid.uuid4())
            elif name == "basic_pension_number":
                digits = f"{uuid.uuid4().int % 10**10:010d}"
                renamed[node] = f"{digits[:4]}-{digits[4:]}"
            else:
                renamed[node] = f"H-{uuid.uuid4().hex[:12]}"
        return renamed[node]
    return node


def _find(node: Any, wanted: Callable[[Any], bool], path: str = "") -> str | None:
    """The first path (dotted) in ``node`` whose value satisfies ``wanted``."""
    if isinstance(node, dict):
        for name, value in node.items():
            here = f"{path}.{name}" if path else name
            if wanted(value):
                return here
            found = _find(value, wanted, here)
            if found:
                return found
    return None


def _with_body(m: Message, change: Callable[[dict[str, Any]], None]) -> Message | None:
    body = copy.deepcopy(m.body)
    try:
        change(body)
    except _NoSuchField:
        return None
    return Message(m.key, json.dumps(body, ensure_ascii=False).encode(), m.headers, m.event_id, body)


class _NoSuchField(Exception):
    pass


def _set_first(kind: Callable[[Any], bool], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        path = _find(body, kind)
        if path is None or path == "event_id":
            raise _NoSuchField
        _set_path(body, path, value)

    return change


def _is_text(v: Any) -> bool:
    # A free-text value: not an id, a code or a date (those have patterns or formats of their own).
    return isinstance(v, str) and any(ord(c) > 0x2FF for c in v)


def _headers(m: Message, change: Callable[[Headers], Headers]) -> Message:
    return Message(m.key, m.value, change(list(m.headers)), m.event_id, m.body)


def _replace_header(name: str, value: bytes | None) -> Callable[[Headers], Headers]:
    return lambda hs: [(k, value if k == name else v) for k, v in hs]


def _drop_header(name: str) -> Callable[[Headers], Headers]:
    return lambda hs: [(k, v) for k, v in hs if k != name]


def _raw_body(m: Message, value: bytes | None) -> Message:
    return Message(m.key, value, m.headers, m.event_id, m.body)


def _key(m: Message, key: bytes | None) -> Message:
    return Message(key, m.value, m.headers, m.event_id, m.body)


def _japanese(m: Message) -> bytes:
    """The body with Japanese text in it for sure (some examples are all ASCII, the same in any encoding)."""
    return (m.value or b"{}")[:-1] + ', "x_note": "浦和区"}'.encode()


Mutation = tuple[str, str, Callable[[Message], Message | None]]

MUTATIONS: list[Mutation] = [
    # --- still valid: must be applied ---------------------------------------------------------------
    ("valid", "applied", lambda m: m),
    ("an additive unknown field", "applied", lambda m: _with_body(m, lambda b: b.update(added_later={"x": [1]}))),
    ("a vendor header that is not UTF-8", "applied", lambda m: _headers(m, lambda h: [*h, ("x-vendor", b"\xff\xfe")])),
    ("a vendor header without a value", "applied", lambda m: _headers(m, lambda h: [*h, ("x-none", None)])),
    ("a vendor header named with a NUL", "applied", lambda m: _headers(m, lambda h: [*h, ("x\x00y", b"v")])),
    ("a traceparent that is garbage", "applied", lambda m: _headers(m, lambda h: [*h, ("traceparent", b"zz-zz")])),
    ("a body of 300 KB", "applied", lambda m: _with_body(m, lambda b: b.update(padding="p" * 300_000))),
    # --- the key ------------------------------------------------------------------------------------
    ("no key", "key", lambda m: _key(m, None)),
    ("an empty key", "key", lambda m: _key(m, b"")),
    ("a key with a NUL", "key", lambda m: _key(m, (m.key or b"") + b"\x00")),
    ("a key that is not UTF-8", "key", lambda m: _key(m, b"\xff\xfe\x00\x01")),
    ("another person's key", "key", lambda m: _key(m, unique_atena().encode())),
    ("a key of 10 KB", "key", lambda m: _key(m, b"7" * 10_000)),
    ("a key with the key field's value padded", "key", lambda m: _key(m, (m.key or b"") + b" ")),
    # --- the envelope (headers) ----------------------------------------------------------------------
    ("no headers at all", "envelope", lambda m: _headers(m, lambda h: [])),
    ("no ce_id", "envelope", lambda m: _headers(m, _drop_header("ce_id"))),
    ("no ce_type", "envelope", lambda m: _headers(m, _drop_header("ce_type"))),
    ("no ce_time", "envelope", lambda m: _headers(m, _drop_header("ce_time"))),
    ("ce_id not a UUID", "envelope", lambda m: _headers(m, _replace_header("ce_id", b"not-a-uuid"))),
    ("ce_id of another event", "envelope", lambda m: _headers(m, _replace_header("ce_id", str(uuid.uuid4()).encode()))),
    ("ce_type of another topic", "envelope", lambda m: _headers(m, _replace_header("ce_type", b"jp.kokunen.x.y.v1"))),
    ("ce_type not UTF-8", "envelope", lambda m: _headers(m, _replace_header("ce_type", b"jp.kokunen.\x83\x5c\xff"))),
    (
        "ce_type with a NUL",
        "envelope",
        lambda m: _headers(m, lambda h: [(k, v + b"\x00" if k == "ce_type" and v else v) for k, v in h]),
    ),
    ("ce_source without a value", "envelope", lambda m: _headers(m, _replace_header("ce_source", None))),
    ("ce_source with an escape", "envelope", lambda m: _headers(m, _replace_header("ce_source", b"/up\x1b[31m"))),
    ("ce_specversion 0.3", "envelope", lambda m: _headers(m, _replace_header("ce_specversion", b"0.3"))),
    ("ce_id twice", "envelope", lambda m: _headers(m, lambda h: [*h, ("ce_id", str(uuid.uuid4()).encode())])),
    ("traceparent not UTF-8", "envelope", lambda m: _headers(m, lambda h: [*h, ("traceparent", b"\xc3\x28")])),
    # --- the body: bytes and syntax ------------------------------------------------------------------
    ("a tombstone (no body)", "validation", lambda m: _raw_body(m, None)),
    ("an empty body", "malformed_json", lambda m: _raw_body(m, b"")),
    ("not JSON", "malformed_json", lambda m: _raw_body(m, b"<xml/>")),
    # Cut on a character boundary: a cut inside a multi-byte character (an example ending in Japanese) is the
    # encoding case, which has its own entries.
    (
        "truncated JSON",
        "malformed_json",
        lambda m: _raw_body(m, (m.value or b"")[:-20].decode("utf-8", "ignore").encode()),
    ),
    ("JSON nested 100,000 deep", "malformed_json", lambda m: _raw_body(m, b"[" * 100_000 + b"]" * 100_000)),
    (
        "a raw NUL inside a string",
        "malformed_json",
        lambda m: _raw_body(m, (m.value or b"").replace(b'"', b'"\x00', 2)),
    ),
    ("a UTF-8 byte-order mark", "malformed_json", lambda m: _raw_body(m, b"\xef\xbb\xbf" + (m.value or b""))),
    (
        "Shift_JIS instead of UTF-8",
        "encoding",
        lambda m: _raw_body(m, _japanese(m).decode().encode("cp932", "replace")),
    ),
    ("UTF-16", "encoding", lambda m: _raw_body(m, (m.value or b"").decode().encode("utf-16"))),
    ("a lone continuation byte", "encoding", lambda m: _raw_body(m, (m.value or b"")[:-1] + b"\x80}")),
    ("a JSON array", "validation", lambda m: _raw_body(m, b"[]")),
    ("a JSON string", "validation", lambda m: _raw_body(m, b'"event"')),
    ("a JSON number", "validation", lambda m: _raw_body(m, b"42")),
    ("JSON null", "validation", lambda m: _raw_body(m, b"null")),
    # --- the body: structure and types ----------------------------------------------------------------
    (
        "a repeated key",
        "duplicate_key",
        lambda m: _raw_body(m, (m.value or b"").replace(b"{", b'{"effective_date": "2020-01-01", ', 1)),
    ),
    (
        "a repeated key in an extra object",
        "duplicate_key",
        lambda m: _raw_body(m, (m.value or b"")[:-1] + b', "x": {"a": 1, "a": 2}}'),
    ),
    ("a NUL escaped in text", "control_character", lambda m: _with_body(m, _set_first(_is_text, "浦和\u0000太郎"))),
    ("a newline in text", "control_character", lambda m: _with_body(m, _set_first(_is_text, "浦和\n太郎"))),
    ("an escape sequence in text", "control_character", lambda m: _with_body(m, _set_first(_is_text, "\u001b[2J"))),
    ("DEL in text", "control_character", lambda m: _with_body(m, _set_first(_is_text, "浦和\u007f"))),
    ("a C1 control in text", "control_character", lambda m: _with_body(m, _set_first(_is_text, "浦和\u0085"))),
    ("a NUL in an unknown field", "control_character", lambda m: _with_body(m, lambda b: b.update(note_x="a\u0000"))),
    ("a date as a Unix time", "validation", lambda m: _with_body(m, lambda b: b.update(effective_date=631152000))),
    (
        "a date as a string of digits",
        "validation",
        lambda m: _with_body(m, lambda b: b.update(effective_date="631152000")),
    ),
    ("a date-time as a Unix time", "validation", lambda m: _with_body(m, lambda b: b.update(recorded_at=1700000000))),
    (
        "a date in another format",
        "validation",
        lambda m: _with_body(m, lambda b: b.update(effective_date="2026/11/01")),
    ),
    ("an impossible date", "validation", lambda m: _with_body(m, lambda b: b.update(effective_date="2026-02-30"))),
    (
        "a recorded time without zone",
        "validation",
        lambda m: _with_body(m, lambda b: b.update(recorded_at="2026-11-01T10:00:00")),
    ),
    (
        "NaN as a date",
        "validation",
        lambda m: _raw_body(m, (m.value or b"").replace(b'"effective_date": ', b'"effective_date": NaN, "x": ', 1)),
    ),
    ("a boolean as a string", "validation", lambda m: _with_body(m, _set_first(lambda v: isinstance(v, bool), "true"))),
    ("a boolean as a number", "validation", lambda m: _with_body(m, _set_first(lambda v: isinstance(v, bool), 1))),
    ("an integer as a string", "validation", lambda m: _with_body(m, _set_first(lambda v: type(v) is int, "1"))),
    ("an integer as a fraction", "validation", lambda m: _with_body(m, _set_first(lambda v: type(v) is int, 1.5))),
    ("text as a number", "validation", lambda m: _with_body(m, _set_first(_is_text, 12))),
    ("text of 100,000 characters", "validation", lambda m: _with_body(m, _set_first(_is_text, "長" * 100_000))),
    ("the event id missing", "validation", lambda m: _with_body(m, lambda b: b.pop("event_id"))),
    ("the effective date missing", "validation", lambda m: _with_body(m, lambda b: b.pop("effective_date"))),
    ("an object where text belongs", "validation", lambda m: _with_body(m, _set_first(_is_text, {"$ne": ""}))),
    (
        "an invalid body near the 1 MiB limit",
        "validation",
        lambda m: _with_body(m, lambda b: b.update(effective_date=1, padding="z" * 1_040_000)),
    ),
]


def corpus(topics: list[TopicSpec]) -> Iterator[Case]:
    for spec in topics:
        for name, expected, mutate in MUTATIONS:
            message = mutate(valid_message(spec))
            if message is not None:
                yield Case(spec, name, expected, message)
