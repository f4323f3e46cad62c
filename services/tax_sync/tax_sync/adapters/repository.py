"""The income slice in PostgreSQL (schema ``tax``): one set-based path for every way assessments arrive.

Both the Kafka handler and the annual file put their assessments into the connection's staging table
(``income_in``, a temporary table: no WAL, invisible to other sessions, emptied at commit) and then call
``apply_staged``, which in a few statements, whatever the number of rows:

1. plans: keeps each row whose 更正連番 is higher than both the person's current figure for that income
   year and every earlier arrival of the same key (exactly ``domain.apply_in_order``), and names the figure
   it supersedes;
2. marks the figures being superseded;
3. stores the new figures;
4. writes their ``tax.income-determined.v1`` events to the outbox, built by the same SQL (no per-row
   Python), in arrival order so that a person's corrections leave in order.

Applies are serialised by a transaction-scoped advisory lock, so a file import and the Kafka consumer
never plan against the same current figure at once.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg
from kokunen_contracts.registry import INCOME_DETERMINED

from ..domain.fields import CODES, FIELDS, NAMES, Kind

SOURCE = "/kokunen/tax_sync"
APPLY_LOCK = "tax.income_assessment apply"

_SQL_TYPES = {
    Kind.ATENA: "text",
    Kind.YEAR: "integer",
    Kind.DATE: "date",
    Kind.SEQ: "integer",
    Kind.COUNT: "integer",
    Kind.OPTIONAL_COUNT: "integer",  # NULL: not given (older producers and file layout)
    Kind.YEN: "bigint",
    Kind.SIGNED_YEN: "bigint",
    Kind.FLAG: "boolean",
    Kind.CODE: "text",  # the file's 区分コード; mapped to the contract's words when stored
}

STAGING_COLUMNS: tuple[str, ...] = ("arrival", *NAMES, "source_event_id", "traceparent")
"""Columns of ``income_in`` in order: the arrival position (Kafka offset or file line), the assessment's
fields in the annual file's order, and where it came from."""

_STAGING_DDL = (
    "CREATE TEMP TABLE IF NOT EXISTS income_in (arrival bigint NOT NULL, "
    + ", ".join(
        f"{f.name} {_SQL_TYPES[f.kind]}" + ("" if f.kind is Kind.OPTIONAL_COUNT else " NOT NULL") for f in FIELDS
    )
    + ", source_event_id uuid, traceparent text) ON COMMIT DELETE ROWS"
)

_PLAN_DDL = """CREATE TEMP TABLE IF NOT EXISTS income_plan (
    arrival bigint NOT NULL, atena_number text NOT NULL, income_year integer NOT NULL,
    correction_seq integer NOT NULL, event_id uuid NOT NULL, supersedes_event_id uuid,
    supersedes_current boolean NOT NULL, is_latest boolean NOT NULL) ON COMMIT DELETE ROWS"""


def determined_event_id(atena_number: str, income_year: int, correction_seq: int) -> uuid.UUID:
    """The id of the ``tax.income-determined.v1`` a figure causes: a function of the figure's identity
    (md5, as the SQL computes it), so a rerun, a re-import or a replay names it the same."""
    import hashlib

    digest = hashlib.md5(  # noqa: S324 - an identifier, not a security measure
        f"{INCOME_DETERMINED.name}/{atena_number}/{income_year}/{correction_seq}".encode()
    ).hexdigest()
    return uuid.UUID(digest)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _code_to_word(name: str) -> str:
    cases = " ".join(f"WHEN '{code}' THEN '{word}'" for code, word in CODES[name].items())
    return f"CASE s.{name} {cases} END"


_STORED = [f.name for f in FIELDS]
_STORED_VALUES = [(_code_to_word(f.name) if f.kind is Kind.CODE else f"s.{f.name}") for f in FIELDS]
_OUTBOUND = [f.name for f in FIELDS if f.name != "public_pension_income"]  # revenue: not needed to screen
_OUTBOUND_VALUES = [v for f, v in zip(FIELDS, _STORED_VALUES, strict=True) if f.name in _OUTBOUND]

_PLAN_SQL = f"""
INSERT INTO income_plan
SELECT arrival, atena_number, income_year, correction_seq,
       md5('{INCOME_DETERMINED.name}/' || atena_number || '/' || income_year || '/' || correction_seq)::uuid,
       NULL, current_seq IS NOT NULL, true
FROM (
    SELECT s.arrival, s.atena_number, s.income_year, s.correction_seq, c.correction_seq AS current_seq,
           max(s.correction_seq) OVER (PARTITION BY s.atena_number, s.income_year ORDER BY s.arrival
                                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS earlier_max
    FROM income_in s
    LEFT JOIN tax.income_assessment c
           ON c.atena_number = s.atena_number AND c.income_year = s.income_year AND c.superseded_at IS NULL
) candidates
WHERE correction_seq > greatest(current_seq, earlier_max, -1)
"""

# A key with several applied rows in one batch: each supersedes the one before; the first supersedes the
# current figure. Only needed when a batch corrects itself (rare: skipped when every key is new).
_CHAIN_SQL = """
UPDATE income_plan p SET supersedes_event_id = x.previous, supersedes_current = x.first AND p.supersedes_current,
                         is_latest = x.latest
FROM (
    SELECT arrival, atena_number,
           lag(event_id) OVER w AS previous,
           row_number() OVER w = 1 AS first,
           row_number() OVER (PARTITION BY atena_number, income_year ORDER BY arrival DESC) = 1 AS latest
    FROM income_plan
    WINDOW w AS (PARTITION BY atena_number, income_year ORDER BY arrival)
) x
WHERE p.arrival = x.arrival AND p.atena_number = x.atena_number
"""

_SUPERSEDE_SQL = """
WITH superseded AS (
    UPDATE tax.income_assessment c SET superseded_at = now()
    FROM income_plan p
    WHERE p.supersedes_current AND c.atena_number = p.atena_number AND c.income_year = p.income_year
      AND c.superseded_at IS NULL
    RETURNING p.arrival, p.atena_number, c.event_id
)
UPDATE income_plan p SET supersedes_event_id = s.event_id
FROM superseded s WHERE p.arrival = s.arrival AND p.atena_number = s.atena_number
"""

_STORE_SQL = f"""
INSERT INTO tax.income_assessment ({", ".join(_STORED)}, person_verified, event_id, supersedes_event_id,
                                   source_event_id, source_file, source_line, superseded_at)
SELECT {", ".join(_STORED_VALUES)}, k.atena_number IS NOT NULL, p.event_id, p.supersedes_event_id,
       s.source_event_id, $1::integer, CASE WHEN $1::integer IS NOT NULL THEN s.arrival END,
       CASE WHEN p.is_latest THEN NULL ELSE now() END
FROM income_plan p
JOIN income_in s ON s.arrival = p.arrival AND s.atena_number = p.atena_number
LEFT JOIN tax.known_person k ON k.atena_number = p.atena_number
"""


def _json_member(f_name: str, kind: Kind) -> tuple[str, str]:
    """One field of a stored figure (alias ``a``) as a JSON member: its ``format()`` template and the SQL
    value. Every value is a number, a date, a uuid, a boolean or one of our own code words, so nothing needs
    escaping; one ``format()`` per row is several times cheaper than ``json_build_object`` over 30 columns."""
    column = f"a.{f_name}"
    if kind is Kind.FLAG:
        return f'"{f_name}":%s', f"CASE WHEN {column} THEN 'true' ELSE 'false' END"
    if kind in (Kind.ATENA, Kind.DATE, Kind.CODE):
        return f'"{f_name}":"%s"', column
    if kind is Kind.OPTIONAL_COUNT:
        return f'"{f_name}":%s', f"coalesce({column}::text, 'null')"
    return f'"{f_name}":%s', column


_MEMBERS = [
    ('"event_id":"%s"', "a.event_id"),
    ('"effective_date":"%s"', "a.assessed_on"),
    ('"recorded_at":%s', "to_json(a.recorded_at)"),
    *[_json_member(f.name, f.kind) for f in FIELDS if f.name in _OUTBOUND],
    ('"kind":"%s"', "CASE WHEN a.supersedes_event_id IS NULL THEN 'determined' ELSE 'corrected' END"),
    ('"supersedes_event_id":%s', "coalesce('\"' || a.supersedes_event_id::text || '\"', 'null')"),
    ('"person_verified":%s', "CASE WHEN a.person_verified THEN 'true' ELSE 'false' END"),
]
PAYLOAD_SQL = "format('{" + ",".join(m[0] for m in _MEMBERS) + "}', " + ", ".join(m[1] for m in _MEMBERS) + ")"
"""The ``tax.income-determined.v1`` body of a stored figure ``a`` (text): the same expression for the outbox
(Kafka path) and the annual-file relay, so both publish the same bytes for the same figure."""

CONSTANT_HEADERS: tuple[tuple[str, str], ...] = (
    ("ce_specversion", "1.0"),
    ("ce_type", INCOME_DETERMINED.event_type),
    ("ce_source", SOURCE),
    ("content-type", "application/json"),
)

_HEADERS = (
    "format('["
    + ",".join(f'["{name}","{_b64(value)}"]' for name, value in CONSTANT_HEADERS)
    + """,["ce_id","%s"],["ce_time","%s"]%s]', """
    "encode(convert_to(a.event_id::text, 'UTF8'), 'base64'), "
    "encode(convert_to(to_json(a.recorded_at) #>> '{}', 'UTF8'), 'base64'), "
    """coalesce(',["traceparent","' || translate(encode(convert_to(s.traceparent, 'UTF8'), 'base64'), E'\\n', '') """
    """|| '"]', ''))"""
)

_PUBLISH_SQL = f"""
INSERT INTO tax.outbox (event_id, topic, message_key, payload, headers)
SELECT a.event_id, '{INCOME_DETERMINED.name}', a.atena_number, convert_to({PAYLOAD_SQL}, 'UTF8'), ({_HEADERS})::jsonb
FROM income_plan p
JOIN income_in s ON s.arrival = p.arrival AND s.atena_number = p.atena_number
JOIN tax.income_assessment a
  ON a.atena_number = p.atena_number AND a.income_year = p.income_year AND a.correction_seq = p.correction_seq
ORDER BY p.arrival
"""


@dataclass(frozen=True)
class ApplyResult:
    staged: int
    determined: int
    corrected: int

    @property
    def applied(self) -> int:
        return self.determined + self.corrected

    @property
    def unchanged(self) -> int:
        """Duplicates and stale corrections: no-ops."""
        return self.staged - self.applied


async def ensure_staging(conn: asyncpg.Connection) -> None:
    """The session's staging tables (created once per database session; emptied by every commit).

    Asked every time rather than remembered: a creation inside a transaction that then rolls back (a
    transient failure, retried on the same pooled connection) leaves no table behind."""
    await conn.execute(_STAGING_DDL)
    await conn.execute(_PLAN_DDL)


async def stage_rows(conn: asyncpg.Connection, rows: list[tuple[Any, ...]]) -> None:
    """Assessments (``STAGING_COLUMNS`` order) into ``income_in``, by one COPY."""
    await conn.copy_records_to_table("income_in", records=rows, columns=STAGING_COLUMNS)


async def apply_staged(conn: asyncpg.Connection, *, source_file: int | None = None, large: bool = False) -> ApplyResult:
    """Apply what is staged (inside the caller's transaction). ``large`` for bulk loads: collect
    statistics on the staging table first so that the planner picks hash joins."""
    staged = await conn.fetchval("SELECT count(*) FROM income_in")
    if not staged:
        return ApplyResult(0, 0, 0)
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", APPLY_LOCK)
    await conn.execute("SET LOCAL datestyle = 'ISO, YMD'")  # dates are written into JSON as text
    if large:
        await conn.execute("SET LOCAL work_mem = '256MB'")  # sorts and hashes of a whole file in memory
        await conn.execute("ANALYZE income_in")
    await conn.execute(_PLAN_SQL)
    # Several applied rows of one key in this batch: chain them (otherwise each is the latest).
    self_correcting = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM income_plan GROUP BY atena_number, income_year HAVING count(*) > 1)"
    )
    if self_correcting:
        await conn.execute(_CHAIN_SQL)
    await conn.execute(_SUPERSEDE_SQL)
    await conn.execute(_STORE_SQL, source_file)
    if source_file is None:
        # Kafka batches: the events go through the outbox, in arrival order (a person's 更正連番 rising).
        # An annual file's are published from the slice itself by the file relay (adapters.file_relay).
        await conn.execute(_PUBLISH_SQL)
    corrected = await conn.fetchval("SELECT count(*) FROM income_plan WHERE supersedes_event_id IS NOT NULL")
    planned = await conn.fetchval("SELECT count(*) FROM income_plan")
    return ApplyResult(staged, planned - corrected, corrected)


async def remember_person(conn: asyncpg.Connection, atena_number: str, is_resident: bool, event_id: uuid.UUID) -> int:
    """A person the resident record knows; their assessments kept so far become verified. Returns how many.

    Shares the apply lock that ``apply_staged`` holds exclusively: otherwise an assessment applied in a concurrent
    transaction (the other subscription) reads ``known_person`` before this commits, this update does not see the
    assessment yet, and it stays unverified for good (found by the restore drill's catch-up burst)."""
    await conn.execute("SELECT pg_advisory_xact_lock_shared(hashtext($1))", APPLY_LOCK)
    await conn.execute(
        """INSERT INTO tax.known_person (atena_number, is_resident, last_event_id) VALUES ($1, $2, $3)
           ON CONFLICT (atena_number) DO UPDATE
           SET is_resident = excluded.is_resident, last_event_id = excluded.last_event_id, updated_at = now()""",
        atena_number,
        is_resident,
        event_id,
    )
    result = await conn.execute(
        "UPDATE tax.income_assessment SET person_verified = true WHERE atena_number = $1 AND NOT person_verified",
        atena_number,
    )
    return int(result.split()[-1])


async def current_figure(conn: asyncpg.Connection, atena_number: str, income_year: int) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT * FROM tax.income_assessment WHERE atena_number = $1 AND income_year = $2 AND superseded_at IS NULL",
        atena_number,
        income_year,
    )
    return row


def staging_row_of(
    values: dict[str, Any], *, arrival: int, source_event_id: uuid.UUID | None, traceparent: str | None
) -> tuple[Any, ...]:
    """A staging row from contract-named values (enum words turned back into the file's codes)."""
    from ..domain.fields import CODE_OF

    row: list[Any] = [arrival]
    for f in FIELDS:
        value = values.get(f.name) if f.kind is Kind.OPTIONAL_COUNT else values[f.name]
        if f.kind is Kind.CODE:
            value = CODE_OF[f.name][str(value)]
        row.append(value)
    row += [source_event_id, traceparent]
    return tuple(row)


__all__ = [
    "STAGING_COLUMNS",
    "ApplyResult",
    "apply_staged",
    "current_figure",
    "date",
    "determined_event_id",
    "ensure_staging",
    "remember_person",
    "stage_rows",
    "staging_row_of",
]
