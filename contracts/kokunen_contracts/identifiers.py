"""Identifiers that cross service boundaries, validated where they enter.

- 個人番号 (My Number): 12 digits, the 12th a check digit (番号法施行令8条, 総務省令85号5条).
- 基礎年金番号 (basic pension number): 4-digit 記号 + 6-digit 番号, no public check digit.
- 宛名番号 / 世帯番号 (addressee / household number): municipal serials, formats vary by city, so they
  are opaque digit strings here; a deployment may add its own check (see ``AtenaNumberFormat``).
- 年金コード (pension code): 4 digits.

My Number is never carried in clear text on a topic: ``SealedMyNumber`` is its encrypted form (see
``kokunen_common.crypto``). The clear value exists only inside ``MyNumber``, whose ``repr`` and ``str``
are masked so that it cannot leak into a log line or an exception message by accident.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler, StringConstraints
from pydantic_core import PydanticCustomError, core_schema

_ASCII_DIGITS = re.compile(r"[0-9]+")


class InvalidMyNumber(ValueError):
    """A 個人番号 that fails its format or check-digit rule. The message never repeats the number."""


def my_number_check_digit(base11: str) -> int:
    """Check digit of a 個人番号 from its first 11 digits (番号法施行令8条, 総務省令85号5条).

    P1..P11 are the 11 base digits numbered from the **right**; the weight Q is n+1 for n = 1..6 and
    n−5 for n = 7..11; r = Σ P×Q mod 11; the check digit is 0 when r ≤ 1, else 11 − r.
    """
    if len(base11) != 11 or not _ASCII_DIGITS.fullmatch(base11):
        raise InvalidMyNumber("個人番号の基礎番号は半角数字11桁です (base must be 11 ASCII digits)")
    total = 0
    for n, char in enumerate(reversed(base11), start=1):
        weight = n + 1 if n <= 6 else n - 5
        total += int(char) * weight
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


def validate_my_number(value: str) -> str:
    """Return ``value`` if it is a valid 個人番号, else raise ``InvalidMyNumber`` (without echoing it)."""
    if not isinstance(value, str):
        raise InvalidMyNumber("個人番号は文字列で指定してください (My Number must be a string)")
    if len(value) != 12 or not _ASCII_DIGITS.fullmatch(value):
        raise InvalidMyNumber(
            f"個人番号は半角数字12桁です (My Number must be 12 ASCII digits; got {len(value)} characters)"
        )
    if my_number_check_digit(value[:11]) != int(value[11]):
        raise InvalidMyNumber("個人番号の検査用数字が一致しません (My Number check digit mismatch)")
    return value


class MyNumber:
    """個人番号 (My Number) held in clear text, validated on construction; masked when printed.

    Use ``.reveal()`` only where the law lets the clear value be used (encryption at rest, the JPS
    provision). In JSON it serialises to the clear value, so models holding it are for the edge only
    (the upstream feed, the JPS file); internal topics carry ``SealedMyNumber`` instead.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = validate_my_number(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "MyNumber('************')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MyNumber) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("MyNumber", self._value))

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        def from_str(value: str) -> MyNumber:
            try:
                return cls(value)
            except InvalidMyNumber as exc:
                # PydanticCustomError keeps the input out of the message text; the caller must
                # still drop `input` from error details (kokunen_common.errors does).
                raise PydanticCustomError("my_number", str(exc)) from None

        return core_schema.json_or_python_schema(
            json_schema=core_schema.no_info_after_validator_function(from_str, core_schema.str_schema()),
            python_schema=core_schema.union_schema(
                [
                    core_schema.is_instance_schema(cls),
                    core_schema.no_info_after_validator_function(from_str, core_schema.str_schema()),
                ]
            ),
            serialization=core_schema.plain_serializer_function_ser_schema(lambda v: v.reveal()),
            metadata={
                "pydantic_js_functions": [
                    lambda _s, _h: {
                        "type": "string",
                        "pattern": "^[0-9]{12}$",
                        "description": "個人番号 (My Number): 12 ASCII digits, the 12th a check digit",
                    }
                ]
            },
        )


AtenaNumber = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{1,15}$"),
]
"""宛名番号 (municipal person id): an opaque string of 1–15 ASCII digits. It is the Kafka key of
every per-person topic, never My Number."""

HouseholdNumber = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,15}$")]
"""世帯番号 (household number): opaque digits, like the 宛名番号."""

BasicPensionNumber = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-[0-9]{6}$")]
"""基礎年金番号: 4-digit 記号, a hyphen, 6-digit 番号 (NNNN-NNNNNN); no public check digit."""

PensionCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")]
"""年金コード: 4 digits (1150 老齢, 1350 障害, 1450 遺族, …)."""

SealedMyNumber = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}:[A-Za-z0-9_-]+$")]
"""個人番号, AES-GCM encrypted: ``<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>``, bound to the
person's 宛名番号 as associated data. Only services holding the key can open it."""


class AtenaNumberFormat:
    """Per-deployment check of a 宛名番号: length and, where the city uses it, the mod-11 check
    digit with weights 2–7 of the resident-record standard. Cities differ, so this is configuration.
    """

    def __init__(self, length: int | None = None, mod11_check_digit: bool = False) -> None:
        self.length = length
        self.mod11_check_digit = mod11_check_digit

    def check(self, value: str) -> None:
        if not _ASCII_DIGITS.fullmatch(value):
            raise ValueError("宛名番号は半角数字です (atena number must be ASCII digits)")
        if self.length is not None and len(value) != self.length:
            raise ValueError(f"宛名番号の桁数が不正です (expected {self.length} digits, got {len(value)})")
        if self.mod11_check_digit and mod11_weights_2_to_7(value[:-1]) != int(value[-1]):
            raise ValueError("宛名番号の検査数字が一致しません (atena number check digit mismatch)")


def mod11_weights_2_to_7(base: str) -> int:
    """Mod-11 check digit with weights 2,3,…,7,2,3,… from the rightmost digit (0 when 11 − r ≥ 10)."""
    total = sum(int(c) * (2 + i % 6) for i, c in enumerate(reversed(base)))
    check = 11 - total % 11
    return 0 if check >= 10 else check
