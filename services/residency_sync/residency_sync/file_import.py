"""Service layer of the legacy file feed: import a full or differential extract into the addressee slice.

- The import's id derives from its kind and the file's SHA-256, and each line's event id from the import id
  and the line number: importing the same file again is a no-op, and so is finishing an interrupted import
  (lines already applied are claimed in the inbox, or found unchanged).
- Differential lines are ``ResidentChanged`` events applied by the stream's own handler, a savepoint each,
  a few hundred per transaction: the same rules, the same person changes.
- Full lines take the bulk path (ADR 0011): checked and sealed in Python, COPY'd into a temporary staging
  table, then one set-based statement per batch writes versions, current pointers and the ``registered``
  person changes into the outbox. A line for a person the slice already holds is compared, not applied:
  unchanged, or reported as differing. Residents of the slice absent from the extract are reported, never
  deleted.
- Bad lines go to the reject report (line number, column and rule, never the value); the import goes on.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gc
import json
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import asyncpg
from kokunen_common.crypto import MyNumberVault
from kokunen_common.errors import describe_exception
from kokunen_common.ids import derived_id
from kokunen_common.logs import get_logger
from kokunen_common.messaging import Delivery, UnitOfWork
from kokunen_common.outbox import OutboxBuffer
from kokunen_common.telemetry import tracer
from kokunen_contracts.envelope import CONTENT_TYPE, SPEC_VERSION
from kokunen_contracts.registry import PERSON_CHANGED
from kokunen_contracts.residency import PersonChanged, PersonChangeKind, ResidentChanged

from .adapters.legacy_file import (
    STAGING_COLUMNS,
    FileRejected,
    FullRowReader,
    RowRejected,
    change_from_row,
    detect_encoding,
    file_digest,
    normalise_encoding,
    open_text,
    read_rows,
)
from .adapters.repository import ADDRESSEE_FIELDS
from .handlers import ResidentChangeHandler

log = get_logger(__name__)

Kind = Literal["full", "differential"]
FILE_NAMESPACE = uuid.UUID("6f1d3c0e-5b7a-5d43-9d1e-2a4c8e7b9f10")
SOURCE = "/kokunen/residency_sync"
FILE_TOPIC = "file:residency"
DUPLICATE = "宛名番号が重複しています (宛名番号 already on an earlier line)"
FULL_EXTRACT_REASON = "full_extract"  # person_version.reason of a line of a full extract (現況)


@dataclass
class ImportReport:
    import_id: uuid.UUID
    kind: str
    file_name: str
    encoding: str
    already_imported: bool = False
    lines: int = 0
    applied: int = 0
    unchanged: int = 0
    rejected: int = 0
    differing: int = 0
    absent: int = 0
    rejects: list[tuple[int, str]] = field(default_factory=list)  # the first ones, for the operator
    seconds: dict[str, float] = field(default_factory=dict)  # where the time went (read, copy, database)

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        data["import_id"] = str(self.import_id)
        data["rejects"] = [{"line": line, "reason": reason} for line, reason in self.rejects[:20]]
        data["seconds"] = {k: round(v, 2) for k, v in self.seconds.items()}
        return data


def import_id_of(kind: str, digest: str) -> uuid.UUID:
    return uuid.uuid5(FILE_NAMESPACE, f"{kind}/{digest}")


def batched(rows: Iterator[tuple[int, list[str]]], size: int) -> Iterator[list[tuple[int, list[str]]]]:
    batch: list[tuple[int, list[str]]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class FileImporter:
    """Imports one extract on one connection (temporary tables live in its session); a full extract's batches
    are shared with ``more_connections``, each applying the persons ``lane_of`` gives it, so that the database
    works on both cores while Python reads (the bulk statement, not Python, is the slower half)."""

    def __init__(
        self,
        conn: asyncpg.Connection,
        vault: MyNumberVault,
        *,
        batch_size: int = 5000,
        more_connections: Sequence[asyncpg.Connection] = (),
    ) -> None:
        self.conn = conn
        self.vault = vault
        self.batch_size = batch_size
        self.more_connections = tuple(more_connections)

    async def run(self, path: Path, kind: Kind, encoding: str | None = None) -> ImportReport:
        chosen = normalise_encoding(encoding) if encoding else detect_encoding(path)
        digest = file_digest(path)
        import_id = import_id_of(kind, digest)
        report = ImportReport(import_id, kind, path.name, chosen)
        status = await self.conn.fetchval("SELECT status FROM residency.file_import WHERE import_id = $1", import_id)
        if status == "completed":
            row = await self.conn.fetchrow("SELECT * FROM residency.file_import WHERE import_id = $1", import_id)
            for name in ("lines", "applied", "unchanged", "rejected", "differing", "absent"):
                setattr(report, name, row[name])
            report.already_imported = True
            return report
        await self.conn.execute(
            """INSERT INTO residency.file_import (import_id, kind, file_name, file_digest, encoding, status)
               VALUES ($1, $2, $3, $4, $5, 'running') ON CONFLICT (import_id) DO NOTHING""",
            import_id,
            kind,
            path.name,
            digest,
            chosen,
        )
        with (
            tracer().start_as_current_span(
                "residency file import", attributes={"kokunen.import.kind": kind, "kokunen.import.id": str(import_id)}
            ),
            open_text(path, chosen) as stream,
        ):
            rows = read_rows(stream)
            if kind == "full":
                await self._full(report, rows)
            else:
                await self._differential(report, rows)
        await self.conn.execute(
            """UPDATE residency.file_import SET status = 'completed', finished_at = now(), lines = $2, applied = $3,
                   unchanged = $4, rejected = $5, differing = $6, absent = $7 WHERE import_id = $1""",
            import_id,
            report.lines,
            report.applied,
            report.unchanged,
            report.rejected,
            report.differing,
            report.absent,
        )
        log.info("file imported", **{k: v for k, v in report.summary().items() if k != "rejects"})
        return report

    async def _reject(self, conn: asyncpg.Connection, report: ImportReport, rejects: list[tuple[int, str]]) -> None:
        if not rejects:
            return
        report.rejected += len(rejects)
        if len(report.rejects) < 100:
            report.rejects.extend(rejects[: 100 - len(report.rejects)])
        await conn.executemany(
            "INSERT INTO residency.import_reject (import_id, line, reason) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            [(report.import_id, line, reason) for line, reason in rejects],
        )

    # --- differential ------------------------------------------------------------------------------

    async def _differential(self, report: ImportReport, rows: Iterator[tuple[int, list[str]]]) -> None:
        handler = ResidentChangeHandler(self.vault)
        recorded_at = datetime.now(UTC)
        for batch in batched(rows, 500):
            report.lines += len(batch)
            rejects: list[tuple[int, str]] = []
            events: list[tuple[int, ResidentChanged]] = []
            for line, fields in batch:
                try:
                    event_id = derived_id(report.import_id, line)
                    events.append((line, change_from_row(fields, event_id=event_id, recorded_at=recorded_at)))
                except RowRejected as exc:
                    rejects.append((line, str(exc)))
            async with self.conn.transaction():
                outbox = OutboxBuffer(schema="residency", source=SOURCE)
                fresh = set(
                    await self.conn.fetchval(
                        """WITH claimed AS (
                               INSERT INTO residency.inbox (message_key, topic, partition, "offset")
                               SELECT k, $2, 0, o FROM unnest($1::text[], $3::bigint[]) AS u(k, o)
                               ON CONFLICT DO NOTHING RETURNING message_key)
                           SELECT coalesce(array_agg(message_key), '{}') FROM claimed""",
                        [str(e.event_id) for _, e in events],
                        FILE_TOPIC,
                        [line for line, _ in events],
                    )
                )
                for line, event in events:
                    if str(event.event_id) not in fresh:
                        report.unchanged += 1  # applied by an earlier, interrupted run of this import
                        continue
                    delivery = Delivery(event, event.event_id, SOURCE + "/file", FILE_TOPIC, 0, line)
                    mark = outbox.mark()
                    try:
                        async with self.conn.transaction():  # a savepoint: a failing line undoes only itself
                            await handler(delivery, UnitOfWork(self.conn, outbox))
                        report.applied += 1
                    except (asyncpg.PostgresConnectionError, OSError):
                        raise
                    except Exception as exc:
                        outbox.rollback_to(mark)
                        rejects.append((line, f"handler: {describe_exception(exc)}"))
                await outbox.flush(self.conn)
                await self._reject(self.conn, report, sorted(rejects))

    # --- full --------------------------------------------------------------------------------------

    async def _full(self, report: ImportReport, rows: Iterator[tuple[int, list[str]]]) -> None:
        lanes = [_Lane(conn) for conn in (self.conn, *self.more_connections)]
        for lane in lanes:
            await lane.conn.execute(STAGING_DDL)
        # Each line allocates tuples and nothing cyclic: the cyclic collector only costs time here.
        collecting = gc.isenabled()
        gc.disable()
        reader = FullRowReader(self.vault, report.import_id, datetime.now(UTC).date())
        recorded_at = datetime.now(UTC).isoformat()
        constants = (report.import_id, PERSON_CHANGED.name, recorded_at, _headers_after_id(recorded_at))
        clock = {"read": 0.0, "copy": 0.0, "database": 0.0}
        try:
            mark = time.perf_counter()
            for batch in batched(rows, self.batch_size):
                report.lines += len(batch)
                staged: list[list[tuple[Any, ...]]] = [[] for _ in lanes]
                rejects: list[tuple[int, str]] = []
                for line, fields in batch:
                    try:
                        row = reader.staged(line, fields)
                    except RowRejected as exc:
                        rejects.append((line, str(exc)))
                        continue
                    staged[lane_of(row[_ATENA], len(lanes))].append(row)
                mark = _tick(clock, "read", mark)
                for number, lane in enumerate(lanes):
                    await lane.settle()  # its previous batch ran in the database while we read this one
                    mark = _tick(clock, "database", mark)
                    await self._stage(report, lane, staged[number], rejects if number == 0 else [])
                    lane.pending = asyncio.create_task(self._apply_staged(report, lane, constants))
                    await asyncio.sleep(0)  # send the statement before reading the next batch
                    mark = _tick(clock, "copy", mark)
            for lane in lanes:
                await lane.settle()
            mark = _tick(clock, "database", mark)
            report.seconds = clock
            for number, lane in enumerate(lanes):
                report.absent += await lane.conn.fetchval(ABSENCE_SQL, report.import_id, len(lanes), number)
        finally:
            if collecting:
                gc.enable()
            for lane in lanes:
                if lane.pending is not None:
                    lane.pending.cancel()
            for lane in lanes:
                await lane.conn.execute("DROP TABLE IF EXISTS residency_staged, residency_seen")

    async def _stage(
        self, report: ImportReport, lane: _Lane, rows: list[tuple[Any, ...]], rejects: list[tuple[int, str]]
    ) -> None:
        """Opens the lane's transaction for one batch: its lines COPY'd into staging, rejects reported."""
        lane.transaction = lane.conn.transaction()
        await lane.transaction.start()
        try:
            # The statement's tuple store of new versions (~5,000 wide rows) spills to disk at the default 4 MB.
            await lane.conn.execute("SET LOCAL work_mem = '64MB'")
            await lane.conn.copy_records_to_table("residency_staged", columns=STAGING_COLUMNS, records=rows)
            if not lane.analysed and rows:
                # Never analysed, the staging table looks big to the planner. Once is enough: the statistics
                # of a full batch outlive the rows that each commit deletes (ANALYZE per batch cost ~10 % of
                # the database's time).
                await lane.conn.execute("ANALYZE residency_staged")
                lane.analysed = True
            await self._reject(lane.conn, report, rejects)
        except BaseException:
            await lane.transaction.rollback()
            raise

    async def _apply_staged(self, report: ImportReport, lane: _Lane, constants: tuple[Any, ...]) -> None:
        assert lane.transaction is not None
        try:
            row = await lane.conn.fetchrow(BATCH_SQL, *constants)
            duplicates = sorted(row["duplicates"])
            await self._reject(lane.conn, report, [(line, DUPLICATE) for line in duplicates])
            await lane.transaction.commit()
        except BaseException:
            await lane.transaction.rollback()
            raise
        report.applied += row["applied"]
        report.differing += row["differing"]
        report.unchanged += row["unchanged"]


_ATENA = STAGING_COLUMNS.index("atena_number")


def lane_of(atena_number: str, lanes: int) -> int:
    """Which connection applies a person's line: by the last character of the 宛名番号 (``ABSENCE_SQL`` says the
    same), so every line of one person goes through one session, in file order, and meets the earlier ones in
    that session's ``residency_seen`` (a repeated 宛名番号 is still caught, and the first line wins)."""
    return ord(atena_number[-1]) % lanes


@dataclass
class _Lane:
    """One connection applying its share of a full extract: its own staging tables and one batch in flight."""

    conn: asyncpg.Connection
    pending: asyncio.Task[None] | None = None
    transaction: asyncpg.transaction.Transaction | None = None
    analysed: bool = False

    async def settle(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            await pending


def _tick(clock: dict[str, float], what: str, since: float) -> float:
    now = time.perf_counter()
    clock[what] += now - since
    return now


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode("ascii")


# --- SQL of the bulk path ----------------------------------------------------------------------------


def _address_json(text: str, postal: str, ward: str, lg_code: str, country: str | None) -> str:
    """The same JSON as ``Address.model_dump_json`` of what ``legacy_file._address`` builds."""
    saitama = f"{text} LIKE '埼玉県さいたま市%'"
    country_expr = f"coalesce({country}, 'JP')" if country else "'JP'"
    japan = f"{country} IS NULL" if country else "true"
    return (
        f"CASE WHEN {text} IS NULL THEN NULL ELSE jsonb_build_object('text', {text}, 'postal_code', {postal}, "
        f"'prefecture', CASE WHEN {japan} AND {saitama} THEN '埼玉県' END, "
        f"'municipality', CASE WHEN {japan} AND {saitama} THEN 'さいたま市' END, "
        f"'ward', {ward}, 'local_government_code', {lg_code}, 'country_code', {country_expr}) END"
    )


VERSION_EXPRESSIONS: dict[str, str] = {
    "household_number": "s.household_number",
    "name": "s.name",
    "name_kana": "s.name_kana",
    "former_surname": "s.former_surname",
    "birth_date": "s.birth_date",
    "sex": "s.sex",
    "relationship": "s.relationship",
    "resident_class": "s.resident_class",
    "householder": "CASE WHEN s.householder_name IS NULL THEN NULL ELSE jsonb_build_object('atena_number', "
    "s.householder_atena, 'name', s.householder_name) END",
    "became_resident": "CASE WHEN s.became_reason IS NULL THEN NULL ELSE jsonb_build_object('reason', "
    "s.became_reason, 'on', s.became_on) END",
    "current_address": _address_json("s.address_text", "s.address_postal", "s.address_ward", "s.address_lg_code", None),
    "previous_address": _address_json("s.previous_address", "NULL::text", "NULL::text", "NULL::text", None),
    "moved_in_from": _address_json(
        "s.moved_in_from_text", "NULL::text", "NULL::text", "NULL::text", "s.moved_in_from_country"
    ),
    "moved_out_to": _address_json(
        "s.moved_out_to_text", "NULL::text", "NULL::text", "NULL::text", "s.moved_out_to_country"
    ),
    "family_register_head": "s.family_register_head",
    "removal": "CASE WHEN s.removal_reason IS NULL THEN NULL ELSE jsonb_build_object('reason', s.removal_reason, "
    "'on', s.removal_on, 'notified_on', NULL) END",
    "nationality": "s.nationality",
    "alias": "s.alias",
    "processing_suspension": "CASE WHEN s.suspension_reason IS NULL THEN NULL ELSE jsonb_build_object("
    "'suspended', true, 'reason', s.suspension_reason) END",
    "residence_status": "CASE WHEN s.residence_status IS NULL THEN NULL ELSE jsonb_build_object('status', "
    "s.residence_status, 'designated_activity', NULL, 'period_end', s.residence_period_end) END",
}
assert tuple(VERSION_EXPRESSIONS) == ADDRESSEE_FIELDS

STAGING_DDL = """
    DROP TABLE IF EXISTS residency_staged, residency_seen;
    CREATE TEMPORARY TABLE residency_staged (
        line integer, event_id uuid, published_event_id uuid, change_id text, effective_date date,
        processed_on date, atena_number text, household_number text, name text, name_kana text,
        former_surname text, birth_date date, sex text, relationship text, resident_class text,
        householder_atena text, householder_name text, became_reason text, became_on date, address_text text,
        address_postal text, address_ward text, address_lg_code text, previous_address text,
        moved_in_from_text text, moved_in_from_country text, moved_out_to_text text, moved_out_to_country text,
        family_register_head text, removal_reason text, removal_on date, nationality text, alias text,
        suspension_reason text, residence_status text, residence_period_end date, my_number_sealed text,
        my_number_key_id text, my_number_hash bytea, is_resident boolean, lives_in_japan boolean
    ) ON COMMIT DELETE ROWS;
    CREATE TEMPORARY TABLE residency_seen (atena_number text PRIMARY KEY, line integer NOT NULL);
"""

_ADDRESSEE = ", ".join(ADDRESSEE_FIELDS)
_STAGED_ADDRESSEE = ", ".join(VERSION_EXPRESSIONS.values())

# json, not jsonb: the body is only written out, and json_build_object skips jsonb's sorting and parsing.
_PAYLOAD = f"""json_build_object(
    'event_id', v.published_event_id, 'effective_date', v.effective_date, 'recorded_at', $3::text,
    'atena_number', v.atena_number, 'kind', '{PersonChangeKind.REGISTERED.value}', 'source_change_id', v.change_id,
    'cause_event_id', v.source_event_id, 'replaces_event_id', NULL, 'cancels_event_id', NULL,
    'household_number', v.household_number, 'name', v.name, 'name_kana', v.name_kana, 'sex', v.sex,
    'birth_date', v.birth_date, 'address', v.current_address, 'lives_in_japan', v.lives_in_japan,
    'is_resident', v.is_resident, 'resident_class', v.resident_class, 'nationality', v.nationality,
    'residence_status', v.residence_status, 'my_number_sealed', v.my_number_sealed,
    'relationship', v.relationship, 'householder_atena_number', v.householder->>'atena_number',
    'processing_suspension', v.processing_suspension)"""
# Only ce_id differs between the rows: the headers after it are one constant ($4, ``_headers_after_id``).
_HEADERS = f"""(jsonb_build_array(
    jsonb_build_array('ce_specversion', '{_b64(SPEC_VERSION)}'),
    jsonb_build_array('ce_id', encode(convert_to(v.published_event_id::text, 'UTF8'), 'base64'))) || $4::jsonb)"""


def _headers_after_id(recorded_at: str) -> str:
    return json.dumps(
        [
            ["ce_type", _b64(PersonChanged.event_type)],
            ["ce_source", _b64(SOURCE)],
            ["ce_time", _b64(recorded_at)],
            ["content-type", _b64(CONTENT_TYPE)],
        ]
    )


# One statement per batch, so that the database works on it while Python reads the next batch:
# - every 宛名番号 of the extract is remembered (duplicates now, absences at the end); a line whose 宛名番号
#   came earlier in the file is left out and reported;
# - a person the slice already holds is compared with their current version, never applied from a full
#   extract: unchanged, or reported as differing;
# - a new person gets their version, their current pointer and their `registered` person change.
BATCH_SQL = f"""
    WITH seen AS (
        INSERT INTO residency_seen (atena_number, line) SELECT atena_number, line FROM residency_staged
        ON CONFLICT DO NOTHING RETURNING line),
    fresh AS (
        -- A scalar subquery and a LATERAL with LIMIT: index probes per line, never a hash of the whole slice.
        SELECT s.*, (SELECT p.current_version_id FROM residency.person p WHERE p.atena_number = s.atena_number)
                    AS current_version_id
        FROM residency_staged s JOIN seen USING (line)),
    known AS (
        SELECT s.line, s.atena_number,
               (ROW({_STAGED_ADDRESSEE}, s.my_number_hash) IS DISTINCT FROM
                ROW({", ".join("v." + c for c in ADDRESSEE_FIELDS)}, v.my_number_hash)) AS differs
        FROM fresh s
        CROSS JOIN LATERAL (SELECT * FROM residency.person_version pv
                            WHERE pv.version_id = s.current_version_id LIMIT 1) v
        WHERE s.current_version_id IS NOT NULL),
    reported AS (
        INSERT INTO residency.import_difference (import_id, line, atena_number)
        SELECT $1, line, atena_number FROM known WHERE differs ON CONFLICT DO NOTHING),
    v AS (
        INSERT INTO residency.person_version (
            atena_number, change_id, reason, effective_date, processed_on, source_event_id, published_event_id,
            arrival, {_ADDRESSEE}, my_number_sealed, my_number_key_id, my_number_hash, is_resident, lives_in_japan)
        SELECT s.atena_number, s.change_id, '{FULL_EXTRACT_REASON}', s.effective_date, s.processed_on, s.event_id,
               s.published_event_id, 'first_sight', {_STAGED_ADDRESSEE}, s.my_number_sealed, s.my_number_key_id,
               s.my_number_hash, s.is_resident, s.lives_in_japan
        FROM fresh s
        WHERE s.current_version_id IS NULL
        RETURNING *),
    p AS (
        INSERT INTO residency.person (atena_number, current_version_id, latest_effective_date, is_resident,
                                      my_number_hash)
        SELECT atena_number, version_id, effective_date, is_resident, my_number_hash FROM v),
    o AS (
        INSERT INTO residency.outbox (event_id, topic, message_key, payload, headers)
        SELECT v.published_event_id, $2, v.atena_number, convert_to({_PAYLOAD}::text, 'UTF8'), {_HEADERS}
        FROM v RETURNING 1)
    SELECT (SELECT count(*) FROM o) AS applied,
           (SELECT count(*) FROM known WHERE differs) AS differing,
           (SELECT count(*) FROM known WHERE NOT differs) AS unchanged,
           (SELECT coalesce(array_agg(s.line), '{{}}') FROM residency_staged s
            WHERE NOT EXISTS (SELECT 1 FROM seen WHERE seen.line = s.line)) AS duplicates"""

# Residents of the slice the extract did not mention: reported, not deleted (the extract may be partial, or
# the 消除 may still be on its way as a change with its reason).
# Each session asks for its own share of the slice (``lane_of``: $2 sessions, this one number $3).
ABSENCE_SQL = """
    WITH absent AS (
        INSERT INTO residency.import_absence (import_id, atena_number)
        SELECT $1, p.atena_number FROM residency.person p
        WHERE p.is_resident AND ascii(right(p.atena_number, 1)) % $2::integer = $3::integer
          AND NOT EXISTS (SELECT 1 FROM residency_seen s WHERE s.atena_number = p.atena_number)
        ON CONFLICT DO NOTHING RETURNING 1)
    SELECT count(*) FROM absent"""


FULL_LOAD_CONNECTIONS = 2
"""Sessions applying a full extract at once: one per core of the database on the project's 2-core machine."""


async def import_file(
    pool: asyncpg.Pool,
    vault: MyNumberVault,
    path: Path,
    kind: Kind,
    encoding: str | None = None,
    *,
    connections: int = FULL_LOAD_CONNECTIONS,
    **options: Any,
) -> ImportReport:
    async with contextlib.AsyncExitStack() as stack:
        conn = await stack.enter_async_context(pool.acquire())
        more = [
            await stack.enter_async_context(pool.acquire()) for _ in range(connections - 1 if kind == "full" else 0)
        ]
        return await FileImporter(conn, vault, more_connections=more, **options).run(path, kind, encoding)


__all__ = ["FileImporter", "FileRejected", "ImportReport", "import_file"]
