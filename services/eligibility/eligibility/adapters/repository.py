"""The eligibility slice in PostgreSQL (schema ``eligibility``)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import asyncpg
from kokunen_contracts.residency import PersonChanged

from ..domain.residency_effects import OpenPeriod, PersonFacts


class EligibilityRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def remember_person(self, event: PersonChanged) -> PersonFacts:
        """Keep what qualification needs from a person change; return the person as eligibility knows them."""
        row = await self.conn.fetchrow(
            """INSERT INTO eligibility.person (atena_number, birth_date, lives_in_japan, is_resident, resident_class,
                                              nationality, residence_status, my_number_sealed, updated_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, now())
               ON CONFLICT (atena_number) DO UPDATE SET birth_date = excluded.birth_date,
                   lives_in_japan = excluded.lives_in_japan, is_resident = excluded.is_resident,
                   resident_class = excluded.resident_class, nationality = excluded.nationality,
                   residence_status = excluded.residence_status,
                   my_number_sealed = coalesce(excluded.my_number_sealed, eligibility.person.my_number_sealed),
                   updated_at = now()
               RETURNING birth_date, other_category, basic_pension_number, residence_status::text""",
            event.atena_number,
            event.birth_date,
            event.lives_in_japan,
            event.is_resident,
            event.resident_class.value,
            event.nationality,
            event.residence_status.model_dump_json() if event.residence_status else None,
            event.my_number_sealed,
        )
        status = event.residence_status
        return PersonFacts(
            birth_date=row["birth_date"],
            other_category=row["other_category"],
            basic_pension_number=row["basic_pension_number"],
            residence_status=status.status if status else None,
            designated_activity=status.designated_activity if status else None,
        )

    async def flag_address_unknown(self, atena_number: str) -> None:
        await self.conn.execute(
            "UPDATE eligibility.person SET address_unknown = true, updated_at = now() WHERE atena_number = $1",
            atena_number,
        )

    async def open_period(self, atena_number: str) -> OpenPeriod | None:
        """The current period with no loss date, if any (locks it against a concurrent change)."""
        row = await self.conn.fetchrow(
            """SELECT version_id, period_id, category, acquired_on, acquisition_reason, published_event_id
               FROM eligibility.qualification_version
               WHERE atena_number = $1 AND superseded_at IS NULL AND lost_on IS NULL
               FOR UPDATE""",
            atena_number,
        )
        if row is None:
            return None
        return OpenPeriod(
            version_id=row["version_id"],
            period_id=row["period_id"],
            category=row["category"],
            acquired_on=row["acquired_on"],
            acquisition_reason=row["acquisition_reason"],
            last_event_id=row["published_event_id"],
        )

    async def add_version(
        self,
        *,
        period_id: uuid.UUID,
        atena_number: str,
        category: str,
        acquired_on: date,
        acquisition_reason: str,
        lost_on: date | None,
        loss_reason: str | None,
        cause_event_id: uuid.UUID | None,
        published_event_id: uuid.UUID,
        supersedes_version_id: int | None = None,
    ) -> None:
        if supersedes_version_id is not None:
            await self.conn.execute(
                "UPDATE eligibility.qualification_version SET superseded_at = clock_timestamp() WHERE version_id = $1",
                supersedes_version_id,
            )
        await self.conn.execute(
            """INSERT INTO eligibility.qualification_version
                   (period_id, atena_number, category, acquired_on, acquisition_reason, lost_on, loss_reason,
                    cause_event_id, published_event_id)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
            period_id,
            atena_number,
            category,
            acquired_on,
            acquisition_reason,
            lost_on,
            loss_reason,
            cause_event_id,
            published_event_id,
        )

    async def current_periods(self, atena_number: str) -> list[dict[str, Any]]:
        rows = await self.conn.fetch(
            """SELECT * FROM eligibility.qualification_version
               WHERE atena_number = $1 AND superseded_at IS NULL ORDER BY acquired_on""",
            atena_number,
        )
        return [dict(r) for r in rows]
