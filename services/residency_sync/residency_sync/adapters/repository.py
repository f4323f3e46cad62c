"""The addressee slice in PostgreSQL (schema ``residency``)."""

from __future__ import annotations

import json
import operator
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg
from kokunen_contracts.residency import ResidentChanged, ResidentRecord

from ..domain.changes import Arrival, CurrentVersion, KnownPerson

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


_version_record = operator.itemgetter(*VERSION_COLUMNS)
"""A ``version_values`` row as the tuple COPY takes, in ``VERSION_COLUMNS`` order."""


def addressee_parts(record: ResidentRecord) -> dict[str, Any]:
    """The ＜宛名＞ of a record by column (``ADDRESSEE_FIELDS``), nested parts as their models (My Number
    excluded): what an announcement is made of, without a trip through JSON."""
    return {
        "household_number": record.household_number,
        "name": record.name.name,
        "name_kana": record.name.kana,
        "former_surname": record.name.former_surname,
        "birth_date": record.birth_date,
        "sex": record.sex.value,
        "relationship": record.relationship,
        "resident_class": record.resident_class.value,
        "householder": record.householder,
        "became_resident": record.became_resident,
        "current_address": record.current_address,
        "previous_address": record.previous_address,
        "moved_in_from": record.moved_in_from,
        "moved_out_to": record.moved_out_to,
        "family_register_head": record.family_register_head,
        "removal": record.removal,
        "nationality": record.nationality,
        "alias": record.alias,
        "processing_suspension": record.processing_suspension,
        "residence_status": record.residence_status,
    }


def addressee_values(record: ResidentRecord) -> dict[str, Any]:
    """The ＜宛名＞ columns of a record (nested parts as JSON text, My Number excluded)."""
    return {
        column: (None if value is None else value.model_dump_json()) if column in JSON_FIELDS else value
        for column, value in addressee_parts(record).items()
    }


def decoded(row: Mapping[str, Any]) -> dict[str, Any]:
    """A version row with its JSON columns parsed."""
    return {k: (json.loads(v) if k in JSON_FIELDS and isinstance(v, str) else v) for k, v in row.items()}


def version_values(
    change: ResidentChanged,
    *,
    arrival: Arrival,
    published_event_id: uuid.UUID | None,
    my_number_sealed: str | None,
    my_number_key_id: str | None,
    my_number_hash: bytes | None,
    is_resident: bool,
    lives_in_japan: bool,
) -> dict[str, Any]:
    """A ``person_version`` row of a change (its ``VERSION_COLUMNS``)."""
    return {
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


@dataclass(frozen=True)
class HeldPerson:
    """What a batch needs of a person already held: ordering of new changes and the current version."""

    known: KnownPerson
    current: CurrentVersion
    current_version_id: int
    my_number_hash: bytes | None


@dataclass(frozen=True)
class PersonPointer:
    """A ``residency.person`` row as a batch leaves it: the current version is either one held before
    (``version_id``) or one the batch adds (``change_id``)."""

    atena_number: str
    latest_effective_date: date
    is_resident: bool
    my_number_hash: bytes | None
    version_id: int | None = None
    change_id: str | None = None


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

    async def add_version(self, values: Mapping[str, Any]) -> int:
        """Store one version (``version_values``); its id."""
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

    # --- a polled batch at once (the stream path): one statement per kind ---

    async def held_persons(self, atena_numbers: Sequence[str]) -> dict[str, HeldPerson]:
        """The persons of a batch already held, locked as ``known_person`` locks one."""
        rows = await self.conn.fetch(
            """SELECT p.atena_number, p.latest_effective_date, p.is_resident, p.my_number_hash,
                      p.current_version_id, v.processed_on, v.effective_date
               FROM residency.person p JOIN residency.person_version v ON v.version_id = p.current_version_id
               WHERE p.atena_number = ANY($1::text[]) FOR UPDATE OF p""",
            list(atena_numbers),
        )
        return {
            row["atena_number"]: HeldPerson(
                KnownPerson(row["latest_effective_date"], row["is_resident"]),
                CurrentVersion(row["processed_on"], row["effective_date"]),
                row["current_version_id"],
                row["my_number_hash"],
            )
            for row in rows
        }

    async def change_ids_seen(self, change_ids: Sequence[str]) -> set[str]:
        """Of these 異動番号, those already stored or named by a parked cancellation."""
        rows = await self.conn.fetch(
            """SELECT change_id AS id FROM residency.person_version WHERE change_id = ANY($1::text[])
               UNION ALL
               SELECT cancels_change_id FROM residency.parked_cancellation WHERE cancels_change_id = ANY($1::text[])""",
            list(change_ids),
        )
        return {row["id"] for row in rows}

    async def add_versions(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
        """Store versions by one COPY (in order: ids ascend as ``add_version`` would draw them); their ids by
        異動番号."""
        await self.conn.copy_records_to_table(
            "person_version",
            schema_name="residency",
            columns=VERSION_COLUMNS,
            records=[_version_record(row) for row in rows],
        )
        ids = await self.conn.fetch(
            "SELECT change_id, version_id FROM residency.person_version WHERE change_id = ANY($1::text[])",
            [row["change_id"] for row in rows],
        )
        return {row["change_id"]: row["version_id"] for row in ids}

    async def point_persons(self, pointers: Sequence[PersonPointer], version_ids: Mapping[str, int]) -> None:
        """Set each person's current version and ordering facts, as ``make_current`` does for one."""
        await self.conn.execute(
            """INSERT INTO residency.person (atena_number, current_version_id, latest_effective_date, is_resident,
                                             my_number_hash, updated_at)
               SELECT a, v, l, r, h, now() FROM unnest($1::text[], $2::bigint[], $3::date[], $4::bool[], $5::bytea[])
                   AS u(a, v, l, r, h)
               ON CONFLICT (atena_number) DO UPDATE SET current_version_id = excluded.current_version_id,
                   latest_effective_date = excluded.latest_effective_date, is_resident = excluded.is_resident,
                   my_number_hash = excluded.my_number_hash, updated_at = now()""",
            [p.atena_number for p in pointers],
            [p.version_id if p.change_id is None else version_ids[p.change_id] for p in pointers],
            [p.latest_effective_date for p in pointers],
            [p.is_resident for p in pointers],
            [p.my_number_hash for p in pointers],
        )

    async def persons_of_changes(self, change_ids: Sequence[str]) -> set[str]:
        """The 宛名番号 of the stored changes named (the persons a batch's cancellations touch)."""
        rows = await self.conn.fetch(
            "SELECT DISTINCT atena_number FROM residency.person_version WHERE change_id = ANY($1::text[])",
            list(change_ids),
        )
        return {row["atena_number"] for row in rows}
