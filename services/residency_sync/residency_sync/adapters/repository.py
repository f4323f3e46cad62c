"""The addressee slice in PostgreSQL (schema ``residency``)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import date
from typing import Any

import asyncpg
from kokunen_contracts.residency import ResidentChanged, ResidentRecord

from ..domain.changes import Arrival, KnownPerson

ADDRESSEE_FIELDS = (
    "household_number",
    "name",
    "name_kana",
    "former_surname",
    "birth_date",
    "sex",
    "relationship",
    "resident_class",
    "householder",
    "became_resident",
    "current_address",
    "previous_address",
    "moved_in_from",
    "moved_out_to",
    "family_register_head",
    "removal",
    "nationality",
    "alias",
    "processing_suspension",
    "residence_status",
)
JSON_FIELDS = frozenset(
    {
        "householder",
        "became_resident",
        "current_address",
        "previous_address",
        "moved_in_from",
        "moved_out_to",
        "removal",
        "processing_suspension",
        "residence_status",
    }
)
CURRENT_ORDER = "processed_on DESC, effective_date DESC, version_id DESC"
"""Which version is the person's current 宛名: the one the upstream processed last (ADR 0010)."""

VERSION_COLUMNS = (
    "atena_number",
    "change_id",
    "reason",
    "effective_date",
    "processed_on",
    "source_event_id",
    "published_event_id",
    "arrival",
    *ADDRESSEE_FIELDS,
    "my_number_sealed",
    "my_number_key_id",
    "my_number_hash",
    "is_resident",
    "lives_in_japan",
)


def addressee_values(record: ResidentRecord) -> dict[str, Any]:
    """The ＜宛名＞ columns of a record (nested parts as JSON text, My Number excluded)."""

    def as_json(value: Any) -> str | None:
        return None if value is None else value.model_dump_json()

    return {
        "household_number": record.household_number,
        "name": record.name.name,
        "name_kana": record.name.kana,
        "former_surname": record.name.former_surname,
        "birth_date": record.birth_date,
        "sex": record.sex.value,
        "relationship": record.relationship,
        "resident_class": record.resident_class.value,
        "householder": as_json(record.householder),
        "became_resident": as_json(record.became_resident),
        "current_address": as_json(record.current_address),
        "previous_address": as_json(record.previous_address),
        "moved_in_from": as_json(record.moved_in_from),
        "moved_out_to": as_json(record.moved_out_to),
        "family_register_head": record.family_register_head,
        "removal": as_json(record.removal),
        "nationality": record.nationality,
        "alias": record.alias,
        "processing_suspension": as_json(record.processing_suspension),
        "residence_status": as_json(record.residence_status),
    }


def decoded(row: Mapping[str, Any]) -> dict[str, Any]:
    """A version row with its JSON columns parsed."""
    return {k: (json.loads(v) if k in JSON_FIELDS and isinstance(v, str) else v) for k, v in row.items()}


class AddresseeRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def known_person(self, atena_number: str) -> KnownPerson | None:
        row = await self.conn.fetchrow(
            "SELECT latest_effective_date, is_resident FROM residency.person WHERE atena_number = $1 FOR UPDATE",
            atena_number,
        )
        return None if row is None else KnownPerson(row["latest_effective_date"], row["is_resident"])

    async def has_change(self, change_id: str) -> bool:
        return bool(await self.conn.fetchval("SELECT 1 FROM residency.person_version WHERE change_id = $1", change_id))

    async def add_version(
        self,
        change: ResidentChanged,
        *,
        arrival: Arrival,
        published_event_id: uuid.UUID | None,
        my_number_sealed: str | None,
        my_number_key_id: str | None,
        my_number_hash: bytes | None,
        is_resident: bool,
        lives_in_japan: bool,
    ) -> int:
        values: dict[str, Any] = {
            "atena_number": change.resident.atena_number,
            "change_id": change.change_id,
            "reason": change.reason.value,
            "effective_date": change.effective_date,
            "processed_on": change.processed_on,
            "source_event_id": change.event_id,
            "published_event_id": published_event_id,
            "arrival": arrival.value,
            **addressee_values(change.resident),
            "my_number_sealed": my_number_sealed,
            "my_number_key_id": my_number_key_id,
            "my_number_hash": my_number_hash,
            "is_resident": is_resident,
            "lives_in_japan": lives_in_japan,
        }
        placeholders = ", ".join(
            f"${i}::jsonb" if c in JSON_FIELDS else f"${i}" for i, c in enumerate(VERSION_COLUMNS, start=1)
        )
        version_id: int = await self.conn.fetchval(
            f"INSERT INTO residency.person_version ({', '.join(VERSION_COLUMNS)}) VALUES ({placeholders}) "
            "RETURNING version_id",
            *(values[c] for c in VERSION_COLUMNS),
        )
        return version_id

    async def make_current(self, atena_number: str) -> dict[str, Any] | None:
        """Point the person at the uncancelled version the upstream processed last (処理日, then 異動日,
        then arrival: ADR 0010); return it (decoded). ``latest_effective_date`` stays the latest 異動日
        held, which is what tells a late change from one in order."""
        row = await self.conn.fetchrow(
            f"""SELECT *, max(effective_date) OVER () AS latest_effective FROM residency.person_version
               WHERE atena_number = $1 AND cancelled_at IS NULL
               ORDER BY {CURRENT_ORDER} LIMIT 1""",
            atena_number,
        )
        if row is None:
            await self.conn.execute("DELETE FROM residency.person WHERE atena_number = $1", atena_number)
            return None
        await self.conn.execute(
            """INSERT INTO residency.person (atena_number, current_version_id, latest_effective_date, is_resident,
                                             my_number_hash, updated_at)
               VALUES ($1, $2, $3, $4, $5, now())
               ON CONFLICT (atena_number) DO UPDATE SET current_version_id = excluded.current_version_id,
                   latest_effective_date = excluded.latest_effective_date, is_resident = excluded.is_resident,
                   my_number_hash = excluded.my_number_hash, updated_at = now()""",
            atena_number,
            row["version_id"],
            row["latest_effective"],
            row["is_resident"],
            row["my_number_hash"],
        )
        current = decoded(row)
        current.pop("latest_effective", None)
        return current

    async def event_in_force_on(self, atena_number: str, on: date) -> uuid.UUID | None:
        """The published event that described the person on ``on`` before a late change arrived: the one a
        late change corrects (its ``replaces_event_id``)."""
        event_id: uuid.UUID | None = await self.conn.fetchval(
            """SELECT published_event_id FROM residency.person_version
               WHERE atena_number = $1 AND cancelled_at IS NULL AND effective_date <= $2
                 AND published_event_id IS NOT NULL
               ORDER BY effective_date DESC, processed_on DESC, version_id DESC LIMIT 1""",
            atena_number,
            on,
        )
        return event_id

    async def version_of_change(self, change_id: str) -> dict[str, Any] | None:
        row = await self.conn.fetchrow("SELECT * FROM residency.person_version WHERE change_id = $1", change_id)
        return None if row is None else decoded(row)

    async def cancel_version(self, version_id: int, cancelled_by: str) -> None:
        await self.conn.execute(
            "UPDATE residency.person_version SET cancelled_at = clock_timestamp(), cancelled_by = $2 "
            "WHERE version_id = $1",
            version_id,
            cancelled_by,
        )

    async def park_cancellation(self, change: ResidentChanged) -> None:
        await self.conn.execute(
            """INSERT INTO residency.parked_cancellation (cancels_change_id, change_id, atena_number, source_event_id)
               VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING""",
            change.cancels_change_id,
            change.change_id,
            change.resident.atena_number,
            change.event_id,
        )

    async def take_parked_cancellation(self, change_id: str) -> str | None:
        """The 異動番号 of a cancellation waiting for ``change_id``, removing it from the park."""
        cancelling: str | None = await self.conn.fetchval(
            "DELETE FROM residency.parked_cancellation WHERE cancels_change_id = $1 RETURNING change_id", change_id
        )
        return cancelling

    async def as_known_at(self, atena_number: str, on: date, known_at: Any) -> dict[str, Any] | None:
        """What we believed about the person on ``on`` (valid time), as known at ``known_at``."""
        row = await self.conn.fetchrow(
            """SELECT * FROM residency.person_version
               WHERE atena_number = $1 AND effective_date <= $2 AND recorded_at <= $3
                 AND (cancelled_at IS NULL OR cancelled_at > $3)
               ORDER BY effective_date DESC, recorded_at DESC LIMIT 1""",
            atena_number,
            on,
            known_at,
        )
        return None if row is None else decoded(row)
