"""The JPS part of the dispatch slice in PostgreSQL (tables ``dispatch.jps_*``)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

import asyncpg
from kokunen_contracts.eligibility import JpsReportDue
from kokunen_contracts.residency import PersonChanged


class JpsRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def keep_report(self, event: JpsReportDue) -> None:
        """Keep a report due (its My Number still sealed), once."""
        await self.keep_reports([event])

    async def keep_reports(self, events: Sequence[JpsReportDue]) -> None:
        """Keep reports due in one statement, each once, their ``arrival`` numbers drawn in the events' order."""
        if not events:
            return
        await self.conn.execute(
            """INSERT INTO dispatch.jps_report
                   (report_id, source_event_id, report_kind, atena_number, my_number_sealed, basic_pension_number,
                    received_on, insured_category, acquired_on, acquisition_reason, lost_on, loss_reason,
                    exemption_kind, exemption_from, exemption_to, pension_code, replaces_report_id, screening_outcome)
               SELECT r, e, k, a, m, b, rc, c, ac, ar, l, lr, ek, ef, et, pc, rp, so
               FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::date[],
                           $8::text[], $9::date[], $10::text[], $11::date[], $12::text[], $13::text[], $14::date[],
                           $15::date[], $16::text[], $17::uuid[], $18::text[])
                    WITH ORDINALITY AS u(r, e, k, a, m, b, rc, c, ac, ar, l, lr, ek, ef, et, pc, rp, so, n)
               ORDER BY n
               ON CONFLICT DO NOTHING""",
            *(
                list(column)
                for column in zip(
                    *(
                        (
                            event.report_id,
                            event.event_id,
                            event.report_kind.value,
                            event.atena_number,
                            event.my_number_sealed,
                            event.basic_pension_number,
                            event.received_on,
                            event.category.value if event.category else None,
                            event.acquired_on,
                            event.acquisition_reason.value if event.acquisition_reason else None,
                            event.lost_on,
                            event.loss_reason.value if event.loss_reason else None,
                            event.exemption_kind,
                            event.exemption_from,
                            event.exemption_to,
                            event.pension_code,
                            event.replaces_report_id,
                            event.screening_outcome.value if event.screening_outcome else None,
                        )
                        for event in events
                    ),
                    strict=True,
                )
            ),
        )

    async def keep_person(self, event: PersonChanged) -> None:
        """The latest 基本4情報 (by the time residency recorded them)."""
        await self.keep_persons([event])

    async def keep_persons(self, events: Sequence[PersonChanged]) -> None:
        """``keep_person`` for many changes in one statement: each person's changes folded first as successive
        upserts would leave them (the latest by recording time, a later one winning a tie)."""
        latest: dict[str, PersonChanged] = {}
        for event in events:
            kept = latest.get(event.atena_number)
            if kept is None or kept.recorded_at <= event.recorded_at:
                latest[event.atena_number] = event
        if not latest:
            return
        people = list(latest.values())
        await self.conn.execute(
            """INSERT INTO dispatch.jps_person
                   (atena_number, name, name_kana, sex, birth_date, postal_code, address, recorded_at, source_event_id)
               SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::date[], $6::text[],
                                    $7::text[], $8::timestamptz[], $9::uuid[])
               ON CONFLICT (atena_number) DO UPDATE SET
                   name = EXCLUDED.name, name_kana = EXCLUDED.name_kana, sex = EXCLUDED.sex,
                   birth_date = EXCLUDED.birth_date, postal_code = EXCLUDED.postal_code, address = EXCLUDED.address,
                   recorded_at = EXCLUDED.recorded_at, source_event_id = EXCLUDED.source_event_id
               WHERE dispatch.jps_person.recorded_at <= EXCLUDED.recorded_at""",
            [e.atena_number for e in people],
            [e.name for e in people],
            [e.name_kana for e in people],
            [e.sex.value for e in people],
            [e.birth_date for e in people],
            [e.address.postal_code for e in people],
            [e.address.text for e in people],
            [e.recorded_at for e in people],
            [e.event_id for e in people],
        )

    async def unsent_reports(self, first_day: date, last_day: date) -> list[dict[str, Any]]:
        """Reports received in the week and not yet in a weekly batch, with the person's details, by 受付日 and
        then in the order they arrived (per person the order eligibility published them): a correction, received
        no earlier than what it corrects, always follows it; a date and a random id did not."""
        rows = await self.conn.fetch(
            """SELECT r.*, p.name, p.name_kana, p.sex, p.birth_date, p.postal_code, p.address
               FROM dispatch.jps_report r
               LEFT JOIN dispatch.jps_person p USING (atena_number)
               WHERE r.received_on BETWEEN $1 AND $2
                 AND NOT EXISTS (SELECT 1 FROM dispatch.jps_item i WHERE i.weekly AND i.report_id = r.report_id)
               ORDER BY r.received_on, r.arrival""",
            first_day,
            last_day,
        )
        return [dict(r) for r in rows]

    async def reports_of(self, *, atena_numbers: Sequence[str], pension_numbers: Sequence[str]) -> list[dict[str, Any]]:
        """Every report kept for these persons (an inquiry answer), with the person's details (ordered as above)."""
        rows = await self.conn.fetch(
            """SELECT r.*, p.name, p.name_kana, p.sex, p.birth_date, p.postal_code, p.address
               FROM dispatch.jps_report r
               LEFT JOIN dispatch.jps_person p USING (atena_number)
               WHERE r.atena_number = ANY($1::text[]) OR r.basic_pension_number = ANY($2::text[])
               ORDER BY r.received_on, r.arrival""",
            list(atena_numbers),
            list(pension_numbers),
        )
        return [dict(r) for r in rows]

    async def weekly_batches(self, week: str) -> list[dict[str, Any]]:
        rows = await self.conn.fetch(
            """SELECT batch_id, record_count, manifest FROM dispatch.jps_batch
               WHERE batch_kind = 'weekly' AND period = $1
               ORDER BY length(batch_id), batch_id""",  # jps-…-W47, -s2 … -s10: the order they were made
            week,
        )
        return [{**dict(r), "manifest": json.loads(r["manifest"])} for r in rows]

    async def sent_batches(self) -> list[dict[str, Any]]:
        """Every JPS batch as the transfer-log verifier compares it with its log entry."""
        rows = await self.conn.fetch(
            "SELECT batch_id, 'jps' AS policy_id, record_count, created_at FROM dispatch.jps_batch ORDER BY created_at"
        )
        return [dict(r) for r in rows]

    async def batch(self, batch_id: str) -> dict[str, Any] | None:
        row = await self.conn.fetchrow(
            "SELECT batch_id, record_count, manifest FROM dispatch.jps_batch WHERE batch_id = $1", batch_id
        )
        return {**dict(row), "manifest": json.loads(row["manifest"])} if row else None

    async def add_batch(
        self, batch_id: str, kind: str, period: str, manifest: dict[str, Any], items: list[tuple[Any, ...]]
    ) -> None:
        await self.conn.execute(
            """INSERT INTO dispatch.jps_batch (batch_id, batch_kind, period, record_count, manifest)
               VALUES ($1, $2, $3, $4, $5::jsonb)""",
            batch_id,
            kind,
            period,
            len(items),
            json.dumps(manifest, ensure_ascii=False),
        )
        await self.conn.copy_records_to_table(
            "jps_item",
            schema_name="dispatch",
            columns=(
                "batch_id",
                "seq",
                "weekly",
                "report_id",
                "report_kind",
                "atena_number",
                "basic_pension_number",
                "insured_category",
                "acquired_on",
                "lost_on",
                "my_number_hash",
            ),
            records=items,
        )

    async def items_for(self, batch_ids: Sequence[str], report_ids: Sequence[uuid.UUID]) -> list[dict[str, Any]]:
        """Sent records of these batches, and the sent records these report ids name (wherever sent)."""
        rows = await self.conn.fetch(
            """SELECT * FROM dispatch.jps_item
               WHERE report_id IS NOT NULL AND (batch_id = ANY($1::text[]) OR (weekly AND report_id = ANY($2::uuid[])))
               ORDER BY batch_id, seq""",
            list(batch_ids),
            list(report_ids),
        )
        return [dict(r) for r in rows]

    async def known_batches(self, batch_ids: Sequence[str]) -> set[str]:
        rows = await self.conn.fetch(
            "SELECT batch_id FROM dispatch.jps_batch WHERE batch_id = ANY($1::text[])", list(batch_ids)
        )
        return {r["batch_id"] for r in rows}

    async def result_import(self, digest: str) -> dict[str, Any] | None:
        row = await self.conn.fetchrow("SELECT * FROM dispatch.jps_result_import WHERE list_digest = $1", digest)
        return {**dict(row), "counts": json.loads(row["counts"])} if row else None

    async def add_result_import(
        self, digest: str, file_name: str, line_count: int, counts: dict[str, int], lines: list[tuple[Any, ...]]
    ) -> None:
        await self.conn.execute(
            """INSERT INTO dispatch.jps_result_import (list_digest, file_name, line_count, counts)
               VALUES ($1, $2, $3, $4::jsonb)""",
            digest,
            file_name,
            line_count,
            json.dumps(counts),
        )
        await self.conn.copy_records_to_table(
            "jps_result_line",
            schema_name="dispatch",
            columns=(
                "list_digest",
                "n",
                "line_number",
                "batch_id",
                "report_id",
                "atena_number",
                "reconciliation",
                "mismatched_fields",
                "jps_result_code",
                "event_id",
            ),
            records=lines,
        )
