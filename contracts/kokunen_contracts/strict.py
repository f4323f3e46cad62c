"""Reading a message strictly: what the JSON Schema says is what is accepted, nothing coerced.

- the body is UTF-8 JSON, one object, with no object key repeated (a repeated key is not "the last one
  wins": the sender meant two things and we cannot know which);
- no string anywhere holds a control character (U+0000–U+001F, U+007F–U+009F): names, addresses and notes
  are text, and a NUL cannot even be stored by PostgreSQL;
- types are strict (pydantic strict mode on JSON): a boolean is ``true``/``false``, not ``"true"`` or ``1``;
  an integer is a JSON number, not ``"1"`` or ``1.0``; a date (異動日, 生年月日 …) is an ISO ``YYYY-MM-DD``
  string, never a number (``631152000`` used to be read as a Unix time, 1990-01-01);
- the Kafka key is present and equals the payload's key field named by the topic registry (per-key order
  is only true when the key is the person's).

Errors name the field and the rule, never the value (a value could be a My Number).
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f]")
CONTROL_FREE_PATTERN = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
"""The same rule as a JSON Schema pattern, on every free-text string of the generated schemas."""

STRICT_READING = (
    "Read strictly: object keys may not repeat; no type coercion (booleans are true/false, integers are JSON "
    "numbers, dates are YYYY-MM-DD strings); no control character (U+0000-U+001F, U+007F-U+009F) in any "
    "string; the Kafka key is required and equals the payload field named by x-key."
)


class BodyError(ValueError):
    """The body is not a valid message of its contract. ``kind`` classifies it for the dead-letter topic:
    ``encoding`` (not UTF-8), ``malformed_json``, ``duplicate_key``, ``control_character``, ``validation``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class _Repeated(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


class _Control(Exception):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> None:
    """``object_pairs_hook``: refuse repeated keys and control characters; builds nothing (only checks)."""
    names = set()
    for name, value in pairs:
        if name in names:
            raise _Repeated(name)
        names.add(name)
        if CONTROL_CHARACTERS.search(name):
            raise _Control
        if type(value) is str:
            if CONTROL_CHARACTERS.search(value):
                raise _Control
        elif type(value) is list:
            _check_list(value)


def _check_list(items: list[Any]) -> None:
    for item in items:
        if type(item) is str:
            if CONTROL_CHARACTERS.search(item):
                raise _Control
        elif type(item) is list:
            _check_list(item)


def _where_control(node: Any, path: str) -> str | None:
    """The path of the first string holding a control character (found only once one is known to exist)."""
    if isinstance(node, str):
        return path if CONTROL_CHARACTERS.search(node) else None
    if isinstance(node, dict):
        for name, value in node.items():
            if CONTROL_CHARACTERS.search(name):
                return f"{path}.(a key)" if path else "(a key)"
            found = _where_control(value, f"{path}.{name}" if path else name)
            if found:
                return found
    if isinstance(node, list):
        for i, value in enumerate(node):
            found = _where_control(value, f"{path}.{i}")
            if found:
                return found
    return None


def _safe_name(name: str) -> str:
    shown = CONTROL_CHARACTERS.sub("?", name)[:40]
    return re.sub(r"[0-9]{6,}", "…", shown)  # never a number long enough to be personal


def check_json(data: bytes) -> None:
    """The JSON-level rules (encoding, syntax, repeated keys, control characters); raises ``BodyError``."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        # Say so plainly: upstream systems in Japan still send Shift_JIS / CP932 by mistake.
        raise BodyError("encoding", "not UTF-8 (wrong encoding, e.g. Shift_JIS)") from None
    try:
        json.loads(text, object_pairs_hook=_pairs)
    except _Repeated as exc:
        raise BodyError("duplicate_key", f"object key {_safe_name(exc.key)!r} appears more than once") from None
    except _Control:
        where = _where_control(json.loads(text), "") or "(body)"
        raise BodyError(
            "control_character", f"{where}: control character (U+0000-U+001F, U+007F-U+009F) in text"
        ) from None
    except json.JSONDecodeError as exc:
        raise BodyError("malformed_json", f"Invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise BodyError("malformed_json", "Invalid JSON: nested too deeply") from None


def parse_body(model: type[M], data: bytes) -> M:
    """The body as ``model``, read strictly (see the module docstring). Unknown fields are ignored (an
    additive field of the same version must not break consumers). Raises ``BodyError``."""
    check_json(data)
    try:
        return model.model_validate_json(data, strict=True, extra="ignore")
    except ValidationError as exc:
        raise BodyError("validation", describe(exc)) from None


def describe(exc: ValidationError) -> str:
    """Field and rule of each error, without the input."""
    parts = []
    for err in exc.errors(include_input=False, include_url=False, include_context=False):
        location = ".".join(str(p) for p in err["loc"]) or "(body)"
        parts.append(f"{location}: {err['msg']}")
    return "; ".join(parts)
