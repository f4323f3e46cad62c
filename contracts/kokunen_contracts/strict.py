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
import re
import types
from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

import jiter
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


# A control character in JSON text: escaped (\u0000-\u001f, \b \f \n \r \t, \u007f-\u009f) or raw (DEL, C1
# in UTF-8; a raw U+0000-U+001F in a string is not JSON and the parser refuses it). A cheap filter on the bytes;
# a hit is confirmed on the parsed document (``\\n`` is no control).
_CONTROL_IN_JSON = re.compile(rb"\\(?:u00[01]|u007[fF]|u00[89]|[bfnrt])|\x7f|\xc2[\x80-\x9f]")

_REPEATED_KEY = re.compile(r'Detected duplicate key "(.*)" at line [0-9]+ column [0-9]+$', re.DOTALL)
"""jiter's refusal of a repeated key (its only error message that carries text from the input)."""


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
    Raises ``BodyError``.

    One parse, in Rust: jiter (pydantic's own parser) refuses a repeated key in any object, as it reads, and
    invalid UTF-8 in any string. Python's ``json`` with an ``object_pairs_hook`` did the same at twice the cost,
    calling back into Python for every object; counting keys after a faster parse needs a walk over every node
    in Python, which costs more than the parse (issue 12)."""
    try:
        document = jiter.from_json(data, catch_duplicate_keys=True)
    except ValueError as exc:
        raise _refusal(data, str(exc)) from None
    # Three memchr scans: most bodies hold no backslash, DEL or C1 lead byte, and then no control character.
    if (b"\\" in data or b"\x7f" in data or b"\xc2" in data) and _CONTROL_IN_JSON.search(data):
        where = _where_control(document, "")
        if where is not None:
            raise BodyError("control_character", f"{where}: control character (U+0000-U+001F, U+007F-U+009F) in text")
    return document


def _refusal(data: bytes, problem: str) -> BodyError:
    """Why jiter refused ``data``: the encoding first (a body in Shift_JIS is told as such wherever the parser
    stopped), then the syntax (jiter stops at the first repeated key, before a syntax error further on), then the
    repeated key. jiter's messages name the problem and where, never a value."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        # Say so plainly: upstream systems in Japan still send Shift_JIS / CP932 by mistake.
        return BodyError("encoding", "not UTF-8 (wrong encoding, e.g. Shift_JIS)")
    repeated = _REPEATED_KEY.match(problem)
    if repeated:
        try:
            jiter.from_json(data)
        except ValueError as exc:
            return BodyError("malformed_json", f"Invalid JSON: {exc}")
        return BodyError("duplicate_key", f"object key {_safe_name(repeated.group(1))!r} appears more than once")
    return BodyError("malformed_json", f"Invalid JSON: {problem}")


def parse_body(model: type[M], data: bytes) -> M:
    """The body as ``model``, read strictly (see the module docstring). Unknown fields are ignored (an
    additive field of the same version must not break consumers). Raises ``BodyError``."""
    document = check_json(data)
    try:
        _check_dates(document, _temporal_tree(model))
    except _NotIsoDate as exc:
        where = exc.where()
        raise BodyError("validation", f"{where}: a date is an ISO 8601 string (YYYY-MM-DD), not a number") from None
    try:
        # The model's validator itself: ``model_validate_json`` is this call behind a Python wrapper (~0.5 µs).
        event: M = model.__pydantic_validator__.validate_json(data, strict=True, extra="ignore")
    except ValidationError as exc:
        raise BodyError("validation", describe(exc)) from None
    return event


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


_DateTree = tuple[tuple[str, bool, "_DateTree"], ...]
"""Each step below a node: its name (``*``: each item of a list), whether a date is there, and the steps below it."""


@functools.cache
def _temporal_tree(model: type[BaseModel]) -> _DateTree:
    """``_temporal_paths`` as a tree, so that a body is walked once, whatever the number of its dates."""
    return _as_tree(_temporal_paths(model))


def _as_tree(paths: Sequence[tuple[str, ...]]) -> _DateTree:
    below: dict[str, list[tuple[str, ...]]] = {}
    for path in paths:
        if path:
            below.setdefault(path[0], []).append(path[1:])
    return tuple((step, () in rests, _as_tree(rests)) for step, rests in below.items())


class _NotIsoDate(Exception):
    """A date that is not an ISO 8601 string; its location is gathered on the way out (nothing is spent on
    locations while every date is right)."""

    def __init__(self) -> None:
        self.steps: list[str | int] = []

    def where(self) -> str:
        where = ""
        for step in reversed(self.steps):
            where = f"{where}.{step}" if where or isinstance(step, int) else step
        return where


def _check_dates(node: Any, tree: _DateTree) -> None:
    """Every date of ``tree`` found in ``node`` is null or a string that starts as ``YYYY-MM-DD`` (pydantic then
    checks the rest of it); a path absent from the body is pydantic's to refuse, or not."""
    for step, is_date, below in tree:
        if step == "*":
            if isinstance(node, list):
                for n, item in enumerate(node):
                    try:
                        _check_date(item, is_date, below)
                    except _NotIsoDate as exc:
                        exc.steps.append(n)
                        raise
        elif isinstance(node, dict):
            try:
                _check_date(node.get(step), is_date, below)
            except _NotIsoDate as exc:
                exc.steps.append(step)
                raise


def _check_date(value: Any, is_date: bool, below: _DateTree) -> None:
    if value is None:
        return
    if is_date and not (isinstance(value, str) and _ISO_DATE_START.match(value)):
        raise _NotIsoDate
    if below:
        _check_dates(value, below)


def describe(exc: ValidationError) -> str:
    """Field and rule of each error, without the input."""
    parts = []
    for err in exc.errors(include_input=False, include_url=False, include_context=False):
        location = ".".join(str(p) for p in err["loc"]) or "(body)"
        parts.append(f"{location}: {err['msg']}")
    return "; ".join(parts)
