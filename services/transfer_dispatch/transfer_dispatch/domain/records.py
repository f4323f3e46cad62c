"""Transfer records built from a recipient's policy, and from nothing else.

``TransferBuilder`` joins a policy (who may receive which fields) to its topic's contract (how those
fields travel). It refuses to exist when the two disagree — a contract with a field the policy does
not list, or a policy field the contract cannot carry — so that a field can only ever leave when the
reviewed policy file names it. Records are built by copying exactly the policy's fields from a source
row: whatever else the row holds (My Number, a name, an address) stays behind.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from typing import Any

from kokunen_contracts.registry import BATCH_COMPLETED_TOPICS, TopicSpec, topic
from kokunen_contracts.transfer import (
    TRANSFER_RECORD_METADATA,
    DisclosureKind,
    TransferBatchCompleted,
    TransferRecord,
    TransferRecorded,
    event_ids_digest,
)
from pydantic import TypeAdapter

from .policy import MY_NUMBER_FIELDS, PolicyBook, PolicyError, RecipientPolicy

RECORD_NAMESPACE = uuid.UUID("6f0c3f0e-3b9a-5d1e-9c55-6b8f1f3a2d10")
"""Namespace of record ids derived from (policy, period, subject, revision)."""
_RECORD_NAMESPACE_BYTES = RECORD_NAMESPACE.bytes
MARKER_NAMESPACE = uuid.UUID("0b6f7d3c-52a4-5e8e-8d0a-3c1f2e9b7a41")
"""Namespace of batch-completed marker ids, derived from the batch id."""


class FieldNotInPolicy(PolicyError):
    """A contract or a caller asked to send a field the recipient's policy does not list."""


def data_fields(spec: TopicSpec) -> frozenset[str]:
    """The personal-data fields of a transfer contract (its model minus the record metadata)."""
    return frozenset(spec.model.model_fields) - TRANSFER_RECORD_METADATA


def payload_digest(payload: Mapping[str, Any]) -> bytes:
    """A stable digest of what one record carried (field names and values as text, in the policy's order):
    tells whether a later state would carry different fields than the record already sent."""
    text = repr(tuple((k, None if v is None else str(v)) for k, v in payload.items()))
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


@dataclass(frozen=True)
class RecordMeta:
    """What a record says about itself besides the policy's fields (ids as UUIDs or their text)."""

    record_id: uuid.UUID | str
    batch_id: str
    effective_date: date
    recorded_at: datetime
    corrects_record_id: uuid.UUID | None = None
    cancelled: bool = False

    @cached_property
    def event_id(self) -> str:
        """The record's event id: derived from the record id (a rerun publishes the same event)."""
        rid = self.record_id
        raw = rid.bytes if isinstance(rid, uuid.UUID) else bytes.fromhex(rid.replace("-", ""))
        return uuid5_text(raw, "event")


def snapshot_record_id(policy_id: str, period: str, subject: str, revision: int) -> str:
    """Record ids of a monthly batch are a function of what they are about: a rerun names them the same."""
    return uuid5_text(_RECORD_NAMESPACE_BYTES, f"{policy_id}/{period}/{subject}/{revision}")


def uuid5_text(namespace: bytes, name: str) -> str:
    """``str(uuid.uuid5(namespace, name))`` without building UUID objects: a monthly batch derives two ids per
    record, and ``uuid.UUID.__init__`` was the largest single cost of building 300,000 of them."""
    digest = bytearray(hashlib.sha1(namespace + name.encode(), usedforsecurity=False).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


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
        self._field_set = frozenset(policy.fields)
        self._many: TypeAdapter[list[TransferRecord]] = TypeAdapter(list[spec.model])  # type: ignore[name-defined]

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
        model: type[TransferRecord] = self.spec.model  # type: ignore[assignment]  # checked in __init__
        return model(
            **self._fields_of(
                payload, RecordMeta(record_id, batch_id, effective_date, recorded_at, corrects_record_id, cancelled)
            )
        )

    def build_many(self, items: Sequence[tuple[Mapping[str, Any], RecordMeta]]) -> list[TransferRecord]:
        """Many records validated in one call (a monthly batch): the same checks as ``build``."""
        return self._many.validate_python([self._fields_of(payload, meta) for payload, meta in items])

    def _fields_of(self, payload: Mapping[str, Any], meta: RecordMeta) -> dict[str, Any]:
        extra = payload.keys() - self._field_set
        if extra:
            raise FieldNotInPolicy(f"{sorted(extra)} not in policy {self.policy.id}: cannot be sent")
        if meta.cancelled and meta.corrects_record_id is None:
            raise PolicyError("a cancellation must name the record it cancels")
        return {
            "event_id": meta.event_id,
            "effective_date": meta.effective_date,
            "recorded_at": meta.recorded_at,
            "record_id": meta.record_id,
            "batch_id": meta.batch_id,
            "corrects_record_id": meta.corrects_record_id,
            "cancelled": meta.cancelled,
            **payload,
        }

    @property
    def marker_spec(self) -> TopicSpec:
        """The topic of this recipient's batch-completed markers (a 随時 transfer has none: KeyError)."""
        return BATCH_COMPLETED_TOPICS[self.spec.name]

    def completion_marker(
        self, *, batch_id: str, month: str, event_ids: Iterable[uuid.UUID | str], recorded_at: datetime
    ) -> TransferBatchCompleted:
        """移転バッチ完了: the marker of a whole batch — its count and the digest of its records' event ids."""
        ids = list(event_ids)
        model: type[TransferBatchCompleted] = self.marker_spec.model  # type: ignore[assignment]
        year, mon = (int(x) for x in month.split("-"))
        return model(
            event_id=uuid.uuid5(MARKER_NAMESPACE, batch_id),
            effective_date=date(year, mon, 1),
            recorded_at=recorded_at,
            batch_id=batch_id,
            processing_month=month,
            record_topic=self.spec.name,
            record_count=len(ids),
            event_ids_sha256=event_ids_digest(ids),
        )


@dataclass(frozen=True)
class SentAbout:
    """One record that left about one person (宛名番号): what ``TransferRecorded`` says of it besides the policy."""

    atena_number: str
    record_id: uuid.UUID | str | None
    corrects_record_id: uuid.UUID | str | None = None
    cancelled: bool = False
    with_my_number: bool = False  # the JPS medium only: whether this person's record carried their number


_RECORDED = TypeAdapter(list[TransferRecorded])


def transfer_recorded(
    policy: RecipientPolicy, sent: Sequence[SentAbout], *, batch_id: str, channel: str, at: datetime, day: date
) -> list[TransferRecorded]:
    """提供・移転の記録, one event per person's record (validated in one call: a monthly batch makes many).

    Field names only — the policy's, which are what the record carried — and ``my_number`` among them only for
    a record that carried the person's number. Event ids derive from the batch and the record (or, for a JPS
    line without a record id, the person): a rerun or a redelivery names the same event.
    """
    names = [f for f in policy.fields if f not in MY_NUMBER_FIELDS]
    with_number = list(policy.fields)
    base = {
        "effective_date": day,
        "recorded_at": at,
        "policy_id": policy.id,
        "kind": DisclosureKind(policy.kind),
        "recipient": policy.recipient,
        "purpose": policy.purpose,
        "legal_basis": policy.legal_basis,
        "batch_id": batch_id,
        "channel": channel,
    }
    namespace = _RECORD_NAMESPACE_BYTES
    return _RECORDED.validate_python(
        [
            {
                **base,
                "event_id": uuid5_text(namespace, f"recorded/{batch_id}/{s.record_id or s.atena_number}"),
                "atena_number": s.atena_number,
                "fields": with_number if s.with_my_number else names,
                "record_id": s.record_id,
                "corrects_record_id": s.corrects_record_id,
                "cancelled": s.cancelled,
            }
            for s in sent
        ]
    )
