"""Enumerations whose values carry their Japanese label (和名), for the departments and staff who read them.

A member is declared ``DEATH = "death", "死亡"``: the value on the wire stays ``"death"``; ``.label`` is
``"死亡"``; the JSON Schema lists every value's label under ``x-enum-labels``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema


class LabelledEnum(StrEnum):
    label: str

    def __new__(cls, value: str, label: str = "") -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        schema = handler(core_schema)
        handler.resolve_ref_schema(schema)["x-enum-labels"] = {member.value: member.label for member in cls}
        return schema
