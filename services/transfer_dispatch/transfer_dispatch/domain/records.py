"""Transfer records built from a recipient's policy, and from nothing else.

``TransferBuilder`` joins a policy (who may receive which fields) to its topic's contract (how those
fields travel). It refuses to exist when the two disagree — a contract with a field the policy does
not list, or a policy field the contract cannot carry — so that a field can only ever leave when the
reviewed policy file names it. Records are built by copying exactly the policy's fields from a source
row: whatever else the row holds (My Number, a name, an address) stays behind.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from kokunen_contracts.registry import TopicSpec, topic
from kokunen_contracts.transfer import TRANSFER_RECORD_METADATA, TransferRecord

from .policy import MY_NUMBER_FIELDS, PolicyBook, PolicyError, RecipientPolicy

RECORD_NAMESPACE = uuid.UUID("6f0c3f0e-3b9a-5d1e-9c55-6b8f1f3a2d10")
"""Namespace of record ids derived from (policy, period, subject, revision)."""


class FieldNotInPolicy(PolicyError):
    """A contract or a caller asked to send a field the recipient's policy does not list."""


def data_fields(spec: TopicSpec) -> frozenset[str]:
    """The personal-data fields of a transfer contract (its model minus the record metadata)."""
    return frozenset(spec.model.model_fields) - TRANSFER_RECORD_METADATA


def payload_digest(payload: Mapping[str, Any]) -> bytes:
    """A stable digest of what one record carried: detects that a later state differs from what was sent."""
    text = json.dumps(payload, sort_keys=True, default=str, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).digest()


def snapshot_record_id(policy_id: str, period: str, subject: str, revision: int) -> uuid.UUID:
    """Record ids of a monthly batch are a function of what they are about: a rerun names them the same."""
    return uuid.uuid5(RECORD_NAMESPACE, f"{policy_id}/{period}/{subject}/{revision}")


class TransferBuilder:
    """Builds one recipient's transfer records: the policy's fields, into the policy's topic's contract."""

    def __init__(self, policy: RecipientPolicy, spec: TopicSpec) -> None:
        if policy.kind != "transfer":
            raise PolicyError(f"policy {policy.id} is a {policy.kind}, not a departmental transfer (移転)")
        if policy.topic != spec.name:
            raise PolicyError(f"policy {policy.id} names topic {policy.topic!r}, not {spec.name}")
        if not issubclass(spec.model, TransferRecord):
            raise PolicyError(f"{spec.name} does not carry transfer records")
        carried = data_fields(spec)
        if MY_NUMBER_FIELDS & carried or MY_NUMBER_FIELDS & set(policy.fields):
            raise PolicyError(f"移転 {policy.id} may never carry My Number (番号法19条)")
        beyond = carried - set(policy.fields)
        if beyond:
            raise FieldNotInPolicy(f"{spec.name} carries {sorted(beyond)}, which policy {policy.id} does not allow")
        lacking = set(policy.fields) - carried
        if lacking:
            raise FieldNotInPolicy(f"policy {policy.id} lists {sorted(lacking)}, which {spec.name} cannot carry")
        self.policy = policy
        self.spec = spec
        self.fields = policy.fields

    @classmethod
    def for_recipient(cls, book: PolicyBook, policy_id: str) -> TransferBuilder:
        """The builder of a recipient named in the policy book (PolicyError for any other recipient)."""
        policy = book.get(policy_id)
        if policy.topic is None:
            raise PolicyError(f"policy {policy_id} has no topic: it is not sent over Kafka")
        return cls(policy, topic(policy.topic))

    def payload(self, source: Mapping[str, Any]) -> dict[str, Any]:
        """Exactly the policy's fields of ``source``; anything else in it stays behind."""
        return self.policy.payload(source)

    def build(
        self,
        payload: Mapping[str, Any],
        *,
        record_id: uuid.UUID,
        batch_id: str,
        effective_date: date,
        recorded_at: datetime,
        corrects_record_id: uuid.UUID | None = None,
        cancelled: bool = False,
    ) -> TransferRecord:
        """One record from a payload made by ``payload`` (a key outside the policy is refused)."""
        extra = set(payload) - set(self.fields)
        if extra:
            raise FieldNotInPolicy(f"{sorted(extra)} not in policy {self.policy.id}: cannot be sent")
        if cancelled and corrects_record_id is None:
            raise PolicyError("a cancellation must name the record it cancels")
        model: type[TransferRecord] = self.spec.model  # type: ignore[assignment]  # checked in __init__
        record = model(
            event_id=uuid.uuid5(record_id, "event"),
            effective_date=effective_date,
            recorded_at=recorded_at,
            record_id=record_id,
            batch_id=batch_id,
            corrects_record_id=corrects_record_id,
            cancelled=cancelled,
            **payload,
        )
        return record
