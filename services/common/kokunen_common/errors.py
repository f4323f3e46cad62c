"""Describe errors without the data that caused them.

Error texts end up in logs, spans and dead-letter headers, so they name the field and the rule,
never the value: pydantic's default message embeds ``input_value``, which could be a My Number.
"""

from __future__ import annotations

import re

from pydantic import ValidationError

_MY_NUMBER_LIKE = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")
_MAX_REASON = 900


class ConfigurationError(RuntimeError):
    """A setting is missing or unusable: the process cannot start until the operator sets it."""


def redact(text: str) -> str:
    """Mask anything shaped like a My Number (12 digits standing alone)."""
    return _MY_NUMBER_LIKE.sub("************", text)


def describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_input=False, include_url=False, include_context=False):
        location = ".".join(str(p) for p in err["loc"]) or "(body)"
        parts.append(f"{location}: {err['msg']}")
    return redact("; ".join(parts))[:_MAX_REASON]


def describe_exception(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        return describe_validation_error(exc)
    first_line = (str(exc).splitlines() or [""])[0]
    return redact(f"{type(exc).__name__}: {first_line}")[:_MAX_REASON]
