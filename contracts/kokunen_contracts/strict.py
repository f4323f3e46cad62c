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

import functools
import json
import re
import types
from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import (
    AwareDatetime,
    BaseModel,
    FutureDate,
    FutureDatetime,
    NaiveDatetime,
    PastDate,
    PastDatetime,
    ValidationError,
)

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
    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                self.key = name
                return
            seen.add(name)
        self.key = "?"


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook``: an object whose keys repeat is refused (a dict of fewer items than pairs)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _Repeated(pairs)
    return obj


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs)
"""One decoder for every body (``json.loads`` with a hook builds a decoder and its scanner per call)."""

# A control character in JSON text: escaped (\u0000-\u001f, \b \f \n \r \t, \u007f-\u009f) or raw (DEL, C1
# in UTF-8). A cheap filter on the bytes; a hit is confirmed on the parsed document (``\\n`` is no control).
_CONTROL_IN_JSON = re.compile(rb"\\(?:u00[01]|u007[fF]|u00[89]|[bfnrt])|\x7f|\xc2[\x80-\x9f]")


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


def check_json(data: bytes) -> Any:
    """The JSON-level rules (encoding, syntax, repeated keys, control characters); the parsed document.
    Raises ``BodyError``."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        # Say so plainly: upstream systems in Japan still send Shift_JIS / CP932 by mistake.
        raise BodyError("encoding", "not UTF-8 (wrong encoding, e.g. Shift_JIS)") from None
    try:
        document = _DECODER.decode(text)
    except _Repeated as exc:
        raise BodyError("duplicate_key", f"object key {_safe_name(exc.key)!r} appears more than once") from None
    except json.JSONDecodeError as exc:
        raise BodyError("malformed_json", f"Invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise BodyError("malformed_json", "Invalid JSON: nested too deeply") from None
    if _CONTROL_IN_JSON.search(data):
        where = _where_control(document, "")
        if where is not None:
            raise BodyError("control_character", f"{where}: control character (U+0000-U+001F, U+007F-U+009F) in text")
    return document


def parse_body(model: type[M], data: bytes) -> M:
    """The body as ``model``, read strictly (see the module docstring). Unknown fields are ignored (an
    additive field of the same version must not break consumers). Raises ``BodyError``."""
    document = check_json(data)
    for path in _temporal_paths(model):
        _check_temporal(document, path, 0, "")
    try:
        return model.model_validate_json(data, strict=True, extra="ignore")
    except ValidationError as exc:
        raise BodyError("validation", describe(exc)) from None


_ISO_DATE_START = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_PYDANTIC_TEMPORAL: tuple[Any, ...] = (AwareDatetime, NaiveDatetime, PastDate, FutureDate, PastDatetime, FutureDatetime)


@functools.cache
def _temporal_paths(model: type[BaseModel]) -> tuple[tuple[str, ...], ...]:
    """Where ``model`` has dates and date-times (``*``: each item of a list). pydantic reads a number, or a
    string of digits, as a Unix time even in strict mode; these must be ISO 8601 strings."""
    paths: list[tuple[str, ...]] = []

    def visit(annotation: Any, prefix: tuple[str, ...], seen: frozenset[type]) -> None:
        origin = get_origin(annotation)
        if origin is Annotated:
            visit(get_args(annotation)[0], prefix, seen)
        elif origin in (Union, types.UnionType):
            for arg in get_args(annotation):
                visit(arg, prefix, seen)
        elif origin in (list, tuple, set, frozenset, Sequence):
            for arg in get_args(annotation):
                if arg is not Ellipsis:
                    visit(arg, (*prefix, "*"), seen)
        elif annotation in _PYDANTIC_TEMPORAL or (isinstance(annotation, type) and issubclass(annotation, date)):
            paths.append(prefix)
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel) and annotation not in seen:
            for name, info in annotation.model_fields.items():
                visit(info.annotation, (*prefix, info.alias or name), seen | {annotation})

    visit(model, (), frozenset())
    return tuple(paths)


def _check_temporal(node: Any, path: tuple[str, ...], i: int, where: str) -> None:
    if i == len(path):
        if node is not None and not (isinstance(node, str) and _ISO_DATE_START.match(node)):
            raise BodyError("validation", f"{where}: a date is an ISO 8601 string (YYYY-MM-DD), not a number")
        return
    step = path[i]
    if step == "*":
        if isinstance(node, list):
            for n, item in enumerate(node):
                _check_temporal(item, path, i + 1, f"{where}.{n}")
    elif isinstance(node, dict) and step in node:
        _check_temporal(node[step], path, i + 1, f"{where}.{step}" if where else step)


def describe(exc: ValidationError) -> str:
    """Field and rule of each error, without the input."""
    parts = []
    for err in exc.errors(include_input=False, include_url=False, include_context=False):
        location = ".".join(str(p) for p in err["loc"]) or "(body)"
        parts.append(f"{location}: {err['msg']}")
    return "; ".join(parts)
