"""Recipient policies (提供・移転先ごとの提供情報) and the only way a payload is built: from a policy.

A recipient or a field that is not in the reviewed policy file cannot be sent; My Number only goes
to a recipient whose policy says it may (the JPS provision, 番号法19条).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from typing import Any

import yaml


class Frequency(StrEnum):
    AS_NEEDED = "as_needed"  # 随時
    MONTHLY = "monthly"  # 月次
    WEEKLY_OR_ON_INQUIRY = "weekly_or_on_inquiry"  # 週次又は照会の都度


class PolicyError(ValueError):
    """A transfer that no policy allows."""


class UnknownRecipient(PolicyError):
    """A recipient the reviewed policy file does not name: it cannot be sent anything."""


MY_NUMBER_FIELDS = frozenset({"my_number", "my_number_sealed"})


@dataclass(frozen=True)
class RecipientPolicy:
    id: str
    kind: str
    recipient: str
    purpose: str
    legal_basis: str
    population: str
    frequency: Frequency
    carries_my_number: bool
    topic: str | None
    fields: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.carries_my_number and MY_NUMBER_FIELDS & set(self.fields):
            raise PolicyError(f"policy {self.id} lists My Number but does not allow carrying it")

    def payload(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Exactly the policy's fields of ``record`` — nothing else leaves."""
        missing = [f for f in self.fields if f not in record]
        if missing:
            raise PolicyError(f"record lacks field(s) {missing} required by policy {self.id}")
        return {f: record[f] for f in self.fields}


@dataclass(frozen=True)
class PolicyBook:
    version: int
    policies: dict[str, RecipientPolicy]

    def get(self, policy_id: str) -> RecipientPolicy:
        try:
            return self.policies[policy_id]
        except KeyError:
            raise UnknownRecipient(
                f"no transfer policy for recipient {policy_id!r}: it cannot be sent anything"
            ) from None


def parse_policies(text: str) -> PolicyBook:
    data = yaml.safe_load(text)
    policies = {}
    for item in data["policies"]:
        policy = RecipientPolicy(
            id=item["id"],
            kind=item["kind"],
            recipient=item["recipient"],
            purpose=item["purpose"],
            legal_basis=item["legal_basis"],
            population=item["population"],
            frequency=Frequency(item["frequency"]),
            carries_my_number=bool(item["carries_my_number"]),
            topic=item.get("topic"),
            fields=tuple(item["fields"]),
        )
        if policy.id in policies:
            raise PolicyError(f"policy {policy.id} is defined twice")
        policies[policy.id] = policy
    return PolicyBook(version=int(data["version"]), policies=policies)


def load_policies() -> PolicyBook:
    """The reviewed policy file shipped with the service."""
    return parse_policies(resources.files("transfer_dispatch").joinpath("policies.yaml").read_text(encoding="utf-8"))
