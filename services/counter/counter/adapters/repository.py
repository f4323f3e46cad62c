"""The counter's schema: the read model (kept only from events), staff sessions and the access log."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg
from kokunen_common.hash_chain import append_to_lane
from kokunen_contracts.counter import FilingOutcome
from kokunen_contracts.eligibility import (
    AdditionalPremiumChanged,
    BenefitClaimReceived,
    ExemptionDecided,
    ExemptionNotificationOutcome,
    ExemptionScreened,
    QualificationChanged,
)
from kokunen_contracts.envelope import Event
from kokunen_contracts.residency import PersonChanged
from kokunen_contracts.tax import IncomeDetermined
from kokunen_contracts.transfer import TransferRecorded

from ..domain.access_log import LANES, LOG_FIELDS
from ..domain.qualification import QualificationEvent
from ..domain.search import SearchKind, SearchQuery, kana_key
from ..domain.sign_in_limits import LimitedBy, SignInLimits, SignInRefusedForNow

SEARCH_LIMIT = 50  # more than a screen: the staff member narrows the search instead
PERSON_COLUMNS = (
    "p.atena_number, name, name_kana, sex, birth_date, address, suspended, suspension_reason, is_resident, "
    "lives_in_japan, resident_class, household_number, change_kind, p.effective_date, "
    "my_number_sealed IS NOT NULL AS has_my_number, "  # never the sealed value itself: pages get only the flag
    # The latest 基礎年金番号 eligibility announced (kept with its events, so no cross-topic write race).
    "(SELECT q.basic_pension_number FROM counter.qualification_event q WHERE q.atena_number = p.atena_number "
    "AND q.basic_pension_number IS NOT NULL ORDER BY q.recorded_at DESC LIMIT 1) AS basic_pension_number"
)


class ReadModel:
    """Writes of the event handlers (inside the consumer's transaction) and reads of the pages."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    # --- from events ---------------------------------------------------------------------------

    async def person_changed(self, event: PersonChanged) -> None:
        """The person as the event describes them now (each event carries the whole state after the change)."""
        suspension = event.processing_suspension
        await self.conn.execute(
            """INSERT INTO counter.person (atena_number, household_number, name, name_kana, kana_key, sex, birth_date,
                   address, is_resident, lives_in_japan, resident_class, suspended, suspension_reason,
                   my_number_sealed, change_kind, effective_date, last_event_id, recorded_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
               ON CONFLICT (atena_number) DO UPDATE SET household_number = EXCLUDED.household_number,
                   name = EXCLUDED.name, name_kana = EXCLUDED.name_kana, kana_key = EXCLUDED.kana_key,
                   sex = EXCLUDED.sex, birth_date = EXCLUDED.birth_date, address = EXCLUDED.address,
                   is_resident = EXCLUDED.is_resident, lives_in_japan = EXCLUDED.lives_in_japan,
                   resident_class = EXCLUDED.resident_class, suspended = EXCLUDED.suspended,
                   suspension_reason = EXCLUDED.suspension_reason, my_number_sealed = EXCLUDED.my_number_sealed,
                   change_kind = EXCLUDED.change_kind, effective_date = EXCLUDED.effective_date,
                   last_event_id = EXCLUDED.last_event_id, recorded_at = EXCLUDED.recorded_at""",
            event.atena_number,
            event.household_number,
            event.name,
            event.name_kana,
            kana_key(event.name_kana) if event.name_kana else None,
            event.sex.value,
            event.birth_date,
            event.address.model_dump_json(exclude_none=True),
            event.is_resident,
            event.lives_in_japan,
            event.resident_class.value,
            bool(suspension and suspension.suspended),
            suspension.reason if suspension and suspension.suspended else None,
            event.my_number_sealed,
            event.kind.value,
            event.effective_date,
            event.event_id,
            event.recorded_at,
        )

    async def qualification_changed(self, event: QualificationChanged) -> None:
        await self.conn.execute(
            """INSERT INTO counter.qualification_event (event_id, atena_number, kind, period_id, category,
                   acquired_on, acquisition_reason, lost_on, loss_reason, replaces_event_id, effective_date,
                   recorded_at, basic_pension_number)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING""",
            event.event_id,
            event.atena_number,
            event.kind.value,
            event.period_id,
            event.category.value,
            event.acquired_on,
            event.acquisition_reason.value,
            event.lost_on,
            event.loss_reason.value if event.loss_reason else None,
            event.replaces_event_id,
            event.effective_date,
            event.recorded_at,
            event.basic_pension_number,
        )

    async def income_determined(self, event: IncomeDetermined) -> None:
        figures = event.model_dump(
            mode="json",
            exclude={"event_id", "effective_date", "recorded_at", "atena_number", "supersedes_event_id"},
        )
        await self.conn.execute(
            """INSERT INTO counter.income (event_id, atena_number, income_year, correction_seq, supersedes_event_id,
                   figures, recorded_at) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7) ON CONFLICT DO NOTHING""",
            event.event_id,
            event.atena_number,
            event.income_year,
            event.correction_seq,
            event.supersedes_event_id,
            json.dumps(figures, ensure_ascii=False),
            event.recorded_at,
        )

    async def filing_outcome(self, event: FilingOutcome) -> None:
        await self.conn.execute(
            """INSERT INTO counter.filing_outcome (event_id, filing_id, atena_number, kind, outcome, rejection, rule,
                   message, effective_date, recorded_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING""",
            event.event_id,
            event.filing_id,
            event.atena_number,
            event.kind.value,
            event.outcome.value,
            event.rejection.value if event.rejection else None,
            event.rule,
            event.message,
            event.effective_date,
            event.recorded_at,
        )

    async def additional_premium_changed(self, event: AdditionalPremiumChanged) -> None:
        await self.conn.execute(
            """INSERT INTO counter.additional_premium (event_id, atena_number, kind, from_month, until_month,
                   monthly_amount_yen, reason, recorded_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING""",
            event.event_id,
            event.atena_number,
            event.kind.value,
            event.from_month,
            event.until_month,
            event.monthly_amount_yen,
            event.reason,
            event.recorded_at,
        )

    async def transfer_recorded(self, event: TransferRecorded) -> None:
        await self.conn.execute(
            """INSERT INTO counter.transfer_record (event_id, atena_number, policy_id, kind, recipient, purpose,
                   legal_basis, fields, batch_id, channel, record_id, corrects_record_id, cancelled, sent_on,
                   recorded_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT DO NOTHING""",
            event.event_id,
            event.atena_number,
            event.policy_id,
            event.kind.value,
            event.recipient,
            event.purpose,
            event.legal_basis,
            event.fields,
            event.batch_id,
            event.channel,
            event.record_id,
            event.corrects_record_id,
            event.cancelled,
            event.effective_date,
            event.recorded_at,
        )

    async def answered(self, event: ExemptionScreened | ExemptionNotificationOutcome | BenefitClaimReceived) -> None:
        """Eligibility's answer to an application, a notification or a claim, kept for the person page."""
        if isinstance(event, ExemptionScreened):
            await self.exemption_screened(event)
        elif isinstance(event, ExemptionNotificationOutcome):
            await self.exemption_notification_outcome(event)
        else:
            await self.benefit_claim_received(event)

    async def exemption_screened(self, event: ExemptionScreened) -> None:
        await self.conn.execute(
            """INSERT INTO counter.exemption_screening (event_id, application_id, atena_number, kind, outcome,
                   decision, first_month, last_month, income_year, refusals, checks, explanation, replaces_event_id,
                   effective_date, recorded_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11::jsonb, $12::jsonb, $13, $14, $15)
               ON CONFLICT DO NOTHING""",
            event.event_id,
            event.application_id,
            event.atena_number,
            event.kind.value,
            event.outcome.value,
            event.decision.value if event.decision else None,
            event.first_month,
            event.last_month,
            event.income_year,
            _json([r.model_dump(mode="json") for r in event.refusals]),
            _json([c.model_dump(mode="json") for c in event.checks]),
            _json(event.explanation),
            event.replaces_event_id,
            event.effective_date,
            event.recorded_at,
        )

    async def exemption_decided(self, event: ExemptionDecided) -> None:
        """JPS's decision on an application (承認/却下, the tier in force), kept beside the city's screening."""
        await self.conn.execute(
            """INSERT INTO counter.exemption_decision (event_id, application_id, atena_number, kind, jps_decision,
                   tier, screened_tier, first_month, last_month, decided_on, explanation, effective_date, recorded_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING""",
            event.event_id,
            event.application_id,
            event.atena_number,
            event.kind.value,
            event.jps_decision.value,
            event.tier.value if event.tier else None,
            event.screened_tier.value if event.screened_tier else None,
            event.first_month,
            event.last_month,
            event.decided_on,
            event.explanation,
            event.effective_date,
            event.recorded_at,
        )

    async def exemption_notification_outcome(self, event: ExemptionNotificationOutcome) -> None:
        await self.conn.execute(
            """INSERT INTO counter.exemption_notification_outcome (event_id, notification_id, atena_number, kind,
                   accepted, first_month, last_month, reason, article, refusals, effective_date, recorded_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12) ON CONFLICT DO NOTHING""",
            event.event_id,
            event.notification_id,
            event.atena_number,
            event.kind.value,
            event.accepted,
            event.first_month,
            event.last_month,
            event.reason,
            event.article,
            _json([r.model_dump(mode="json") for r in event.refusals]),
            event.effective_date,
            event.recorded_at,
        )

    async def benefit_claim_received(self, event: BenefitClaimReceived) -> None:
        await self.conn.execute(
            """INSERT INTO counter.benefit_claim_received (event_id, claim_id, atena_number, kind, received,
                   pension_code, checks, refusals, effective_date, recorded_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9, $10) ON CONFLICT DO NOTHING""",
            event.event_id,
            event.claim_id,
            event.atena_number,
            event.kind.value,
            event.received,
            event.pension_code,
            _json(event.checks),
            _json([r.model_dump(mode="json") for r in event.refusals]),
            event.effective_date,
            event.recorded_at,
        )

    # --- for the pages -------------------------------------------------------------------------

    async def search(self, query: SearchQuery) -> list[dict[str, Any]]:
        sql, args = search_statement(query)
        return found_people(await self.conn.fetch(sql, *args))

    async def person(self, atena_number: str) -> dict[str, Any] | None:
        row = await self.conn.fetchrow(
            f"SELECT {PERSON_COLUMNS} FROM counter.person p WHERE p.atena_number = $1", atena_number
        )
        return None if row is None else _person(row)

    async def sealed_my_number(self, atena_number: str) -> str | None:
        value: str | None = await self.conn.fetchval(
            "SELECT my_number_sealed FROM counter.person WHERE atena_number = $1", atena_number
        )
        return value

    async def qualification_events(self, atena_number: str) -> list[QualificationEvent]:
        return await self._person_list("qualification_events", atena_number)

    async def incomes(self, atena_number: str) -> list[dict[str, Any]]:
        """The current figure of each income year (the highest 更正連番), newest year first."""
        return await self._person_list("incomes", atena_number)

    async def transfer_records(self, atena_number: str, limit: int = 200) -> list[dict[str, Any]]:
        """What was sent about the person, to whom and when (提供・移転の記録), newest first."""
        return await self._person_list("transfers", atena_number, limit)

    async def submissions(self, atena_number: str) -> list[dict[str, Any]]:
        return await self._person_list("submissions", atena_number)

    async def exemption_screenings(self, atena_number: str) -> list[dict[str, Any]]:
        return await self._person_list("screenings", atena_number)

    async def exemption_periods(self, atena_number: str) -> list[dict[str, Any]]:
        return await self._person_list("exemption_periods", atena_number)

    async def person_page(self, atena_number: str) -> dict[str, Any] | None:
        """Everything the person page shows, in one statement (one snapshot, one round trip): the person's columns
        and each of ``PERSON_LISTS`` under its name; None for an unknown 宛名番号."""
        return person_page_of(await self.conn.fetchrow(PERSON_PAGE, atena_number))

    async def _person_list(self, name: str, atena_number: str, limit: int | None = None) -> list[Any]:
        spec = PERSON_LISTS[name]
        sql = spec.sql.format(limit=int(limit or spec.limit))
        return spec.decoded(await self.conn.fetchval(f"SELECT ARRAY({sql})", atena_number))


def search_statement(query: SearchQuery) -> tuple[str, list[object]]:
    """The search's statement and its arguments (``found_people`` reads its rows)."""
    args: list[object]
    if query.kind is SearchKind.ATENA:
        where, args = "p.atena_number = $1", [query.atena_number]
    elif query.kind is SearchKind.PENSION:
        where = (
            "p.atena_number IN (SELECT atena_number FROM counter.qualification_event WHERE basic_pension_number = $1)"
        )
        args = [query.basic_pension_number]
    else:
        where, args = "birth_date = $1 AND kana_key = $2", [query.birth_date, query.kana_key]
    sql = (
        f"SELECT {PERSON_COLUMNS} FROM counter.person p WHERE {where} ORDER BY kana_key, p.atena_number "
        f"LIMIT {SEARCH_LIMIT}"
    )
    return sql, args


def found_people(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The persons a search found (rows read with a session check carry its columns, and one row without a
    person when none was found)."""
    return [_person(_read_only(r)) for r in rows if r["atena_number"] is not None]


def person_page_of(row: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The person page's data from its statement's row (``PERSON_PAGE``); None for an unknown 宛名番号."""
    if row is None or row["atena_number"] is None:
        return None
    page = _person({k: v for k, v in _read_only(row).items() if k not in PERSON_LISTS})
    page.update({name: spec.decoded(row[name]) for name, spec in PERSON_LISTS.items()})
    return page


def _read_only(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row's read columns, without the session check's (``Sessions.read_signed_in``)."""
    return {k: v for k, v in row.items() if not k.startswith("session_")}


@dataclass(frozen=True)
class PersonList:
    """One list on the person page: ``sql`` selects one value per row of the person ``$1`` — a table's whole row
    (asyncpg decodes it into a record with the table's column names) or a ``ROW(…)`` of ``columns`` (a tuple) —
    and ``decode`` turns a row, as a dict, into what the page reads. ``{limit}``: the most rows shown."""

    sql: str
    decode: Callable[[dict[str, Any]], Any] = dict
    columns: tuple[str, ...] = ()
    limit: int = 100

    def decoded(self, rows: Sequence[Any] | None) -> list[Any]:
        if self.columns:
            return [self.decode(dict(zip(self.columns, r, strict=True))) for r in rows or ()]
        return [self.decode(dict(r)) for r in rows or ()]


QUALIFICATION_FIELDS = tuple(f.name for f in fields(QualificationEvent))
SUBMISSION_COLUMNS = ("submission_id", "family", "kind", "staff_id", "department", "received_on", "submitted_at",
                      "confirms_id", "payload", "answer")  # fmt: skip
SCREENING_COLUMNS = ("event_id", "application_id", "atena_number", "kind", "outcome", "decision", "first_month",
                     "last_month", "income_year", "refusals", "checks", "explanation", "replaces_event_id",
                     "effective_date", "recorded_at", "jps_decision", "jps_tier", "jps_decided_on",
                     "jps_explanation")  # fmt: skip
PERSON_LISTS: dict[str, PersonList] = {
    "qualification_events": PersonList(
        "SELECT q FROM counter.qualification_event q WHERE q.atena_number = $1",
        lambda r: QualificationEvent(**{k: r[k] for k in QUALIFICATION_FIELDS}),
    ),
    # The current figure of each income year (the highest 更正連番), newest year first.
    "incomes": PersonList(
        "SELECT DISTINCT ON (i.income_year) i FROM counter.income i WHERE i.atena_number = $1 "
        "ORDER BY i.income_year DESC, i.correction_seq DESC",
        lambda r: {**r, "figures": json.loads(r["figures"])},
    ),
    "outcomes": PersonList(
        "SELECT o FROM counter.filing_outcome o WHERE o.atena_number = $1 ORDER BY o.recorded_at DESC LIMIT {limit}"
    ),
    "premiums": PersonList(
        "SELECT a FROM counter.additional_premium a WHERE a.atena_number = $1 ORDER BY a.recorded_at DESC"
    ),
    # What was sent about the person, to whom and when (提供・移転の記録), newest first.
    "transfers": PersonList(
        "SELECT t FROM counter.transfer_record t WHERE t.atena_number = $1 "
        "ORDER BY t.recorded_at DESC, t.batch_id LIMIT {limit}",
        limit=200,
    ),
    # What staff submitted about the person (newest first) with eligibility's latest answer to each: ``answer`` is
    # None while it is awaited. Each answer is looked up within the person's rows (the tables' person index),
    # never across all answers.
    "submissions": PersonList(
        """SELECT ROW(s.submission_id, s.family, s.kind, s.staff_id, s.department, s.received_on, s.submitted_at,
                      s.confirms_id, s.payload,
                      COALESCE(
                        (SELECT to_jsonb(o) FROM counter.filing_outcome o
                         WHERE o.atena_number = s.atena_number AND o.filing_id = s.submission_id
                         ORDER BY o.recorded_at DESC LIMIT 1),
                        (SELECT to_jsonb(x) FROM counter.exemption_screening x
                         WHERE x.atena_number = s.atena_number AND x.application_id = s.submission_id
                         ORDER BY x.recorded_at DESC LIMIT 1),
                        (SELECT to_jsonb(n) FROM counter.exemption_notification_outcome n
                         WHERE n.atena_number = s.atena_number AND n.notification_id = s.submission_id
                         ORDER BY n.recorded_at DESC LIMIT 1),
                        (SELECT to_jsonb(b) FROM counter.benefit_claim_received b
                         WHERE b.atena_number = s.atena_number AND b.claim_id = s.submission_id
                         ORDER BY b.recorded_at DESC LIMIT 1)))
           FROM counter.submission s WHERE s.atena_number = $1 ORDER BY s.submitted_at DESC LIMIT {limit}""",
        lambda r: {
            **r,
            "payload": json.loads(r["payload"]),
            "answer": json.loads(r["answer"]) if r["answer"] else None,
        },
        SUBMISSION_COLUMNS,
    ),
    # Each application's current screening (a re-screening replaces the one it names), newest first, with JPS's
    # latest decision on it (``jps_decision`` None until the 処理結果一覧表 names it).
    "screenings": PersonList(
        """SELECT ROW(x.event_id, x.application_id, x.atena_number, x.kind, x.outcome, x.decision, x.first_month,
                      x.last_month, x.income_year, x.refusals, x.checks, x.explanation, x.replaces_event_id,
                      x.effective_date, x.recorded_at, d.jps_decision, d.tier, d.decided_on, d.explanation)
           FROM counter.exemption_screening x
           LEFT JOIN LATERAL (SELECT * FROM counter.exemption_decision d
                              WHERE d.atena_number = x.atena_number AND d.application_id = x.application_id
                              ORDER BY d.recorded_at DESC LIMIT 1) d ON true
           WHERE x.atena_number = $1
               AND NOT EXISTS (SELECT 1 FROM counter.exemption_screening y WHERE y.replaces_event_id = x.event_id)
           ORDER BY x.recorded_at DESC LIMIT {limit}""",
        lambda r: _decoded(r, "refusals", "checks", "explanation"),
        SCREENING_COLUMNS,
        limit=50,
    ),
    # 法定免除・産前産後免除 as eligibility recorded them (accepted notifications), newest first.
    "exemption_periods": PersonList(
        "SELECT n FROM counter.exemption_notification_outcome n WHERE n.atena_number = $1 AND n.accepted "
        "ORDER BY n.recorded_at DESC LIMIT {limit}",
        lambda r: _decoded(r, "refusals"),
        limit=50,
    ),
}
PERSON_PAGE = (
    f"SELECT {PERSON_COLUMNS}, "
    + ", ".join(f"ARRAY({spec.sql.format(limit=spec.limit)}) AS {name}" for name, spec in PERSON_LISTS.items())
    + " FROM counter.person p WHERE p.atena_number = $1"
)


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _decoded(row: Mapping[str, Any], *columns: str) -> dict[str, Any]:
    return {**dict(row), **{c: json.loads(row[c]) for c in columns}}


def _person(row: Mapping[str, Any]) -> dict[str, Any]:
    return {**dict(row), "address": json.loads(row["address"])}


class AccessLog:
    """アクセスログ: appended through the hash chain; read by auditors and the verifier."""

    TABLE = "counter.access_log"

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def append(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        """Link ``entry`` into a free lane: the last statement of the request's transaction (the lane is held
        until the commit)."""
        return await append_to_lane(self.conn, self.TABLE, entry, LOG_FIELDS, lanes=LANES)

    async def entries(self, after_seq: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
        sql = f"SELECT * FROM {self.TABLE} WHERE seq > $1 ORDER BY seq"
        rows = await self.conn.fetch(sql + (f" LIMIT {int(limit)}" if limit else ""), after_seq)
        return [_log_row(r) for r in rows]

    async def search(
        self,
        *,
        staff_id: str | None,
        atena_number: str | None,
        since: datetime | None,
        until: datetime | None,
        limit: int = 500,
    ) -> list[dict[str, Any]]:
        conditions, args = [], []
        for column, op, value in (
            ("staff_id", "=", staff_id),
            ("logged_at", ">=", since),
            ("logged_at", "<", until),
        ):
            if value:
                args.append(value)
                conditions.append(f"{column} {op} ${len(args)}")
        if atena_number:
            # The person's own views and reveals, and every search whose result list showed them.
            args.append(atena_number)
            n = len(args)
            conditions.append(
                f"(atena_number = ${n} OR shown -> 'persons' @> "
                f"jsonb_build_array(jsonb_build_object('宛名番号', ${n}::text)))"
            )
        where = " AND ".join(conditions) or "true"
        rows = await self.conn.fetch(
            f"SELECT * FROM {self.TABLE} WHERE {where} ORDER BY seq DESC LIMIT {int(limit)}", *args
        )
        return [_log_row(r) for r in rows]


def _log_row(row: Mapping[str, Any]) -> dict[str, Any]:
    return {**dict(row), "shown": json.loads(row["shown"])}


@dataclass(frozen=True)
class SessionCheck:
    """A page's session check folded into its read: the session is live (not ended, used within ``idle``), the
    form's CSRF token is the session's and the session holds one of ``roles`` (those allowed the page)."""

    session_id: str
    csrf_token: str
    roles: Sequence[str]
    idle: timedelta


SESSION_COLUMNS = ("staff_id", "staff_name", "department", "roles")


class Sessions:
    """Signed-in staff (counter.staff_session): the cookie carries only the random id."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def read_signed_in(self, check: SessionCheck, sql: str, *args: object) -> list[asyncpg.Record] | None:
        """``sql`` (with ``args``) run only for a session that passes ``check``, in one statement — the check and
        the read in one snapshot and one round trip. Its rows, each with the session's ``session_*`` columns and
        ``session_idle_for`` (a read that finds nothing: one row whose read columns are NULL); None when the
        session does not pass (ended, idle, another form's token, no role allowed: ``find`` tells which)."""
        n = len(args)
        rows: list[asyncpg.Record] = await self.conn.fetch(
            f"""WITH signed_in AS (
                    SELECT {", ".join(f"{c} AS session_{c}" for c in SESSION_COLUMNS)},
                           now() - last_seen_at AS session_idle_for
                    FROM counter.staff_session
                    WHERE session_id = ${n + 1} AND ended_at IS NULL AND csrf_token = ${n + 2}
                        AND roles && ${n + 3}::text[] AND last_seen_at >= now() - ${n + 4}::interval)
                SELECT s.*, r.* FROM signed_in s LEFT JOIN LATERAL ({sql}) r ON true""",
            *args,
            check.session_id,
            check.csrf_token,
            list(check.roles),
            check.idle,
        )
        return rows or None

    async def start(
        self, session_id: str, staff_id: str, name: str, department: str, roles: Sequence[str], csrf: str
    ) -> None:
        await self.conn.execute(
            """INSERT INTO counter.staff_session (session_id, staff_id, staff_name, department, roles, csrf_token)
               VALUES ($1, $2, $3, $4, $5, $6)""",
            session_id,
            staff_id,
            name,
            department,
            list(roles),
            csrf,
        )

    async def find(self, session_id: str) -> dict[str, Any] | None:
        row = await self.conn.fetchrow(
            "SELECT *, now() AS db_now FROM counter.staff_session WHERE session_id = $1 AND ended_at IS NULL",
            session_id,
        )
        return None if row is None else dict(row)

    async def touch(self, session_id: str) -> None:
        await self.conn.execute(
            "UPDATE counter.staff_session SET last_seen_at = now() WHERE session_id = $1 AND ended_at IS NULL",
            session_id,
        )

    async def end(self, session_id: str) -> None:
        await self.conn.execute(
            "UPDATE counter.staff_session SET ended_at = now() WHERE session_id = $1 AND ended_at IS NULL", session_id
        )


class Submissions:
    """届出・申請・請求 as staff submitted them: recorded with the event's outbox row, once per form."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def record(
        self,
        *,
        idempotency_key: uuid.UUID,
        submission_id: uuid.UUID,
        family: str,
        event: Event,
        kind: str,
        atena_number: str,
        staff_id: str,
        department: str,
        received_on: date,
        confirms_id: uuid.UUID | None = None,
    ) -> bool:
        """True when this is the form's first submission; False (nothing written) when it was filed before."""
        inserted = await self.conn.fetchval(
            """INSERT INTO counter.submission (submission_id, idempotency_key, family, kind, atena_number, staff_id,
                   department, received_on, confirms_id, payload)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb)
               ON CONFLICT (idempotency_key) DO NOTHING RETURNING true""",
            submission_id,
            idempotency_key,
            family,
            kind,
            atena_number,
            staff_id,
            department,
            received_on,
            confirms_id,
            event.model_dump_json(),
        )
        return bool(inserted)

    async def by_key(self, idempotency_key: uuid.UUID) -> dict[str, Any] | None:
        row = await self.conn.fetchrow("SELECT * FROM counter.submission WHERE idempotency_key = $1", idempotency_key)
        return None if row is None else _decoded(row, "payload")

    async def awaiting_confirmation(self) -> list[dict[str, Any]]:
        """確認待ち: corrections eligibility holds for a second staff member, not yet confirmed by an accepted
        訂正の確認 (oldest first: the queue's order)."""
        rows = await self.conn.fetch(
            """SELECT s.*, o.message FROM counter.submission s
               JOIN counter.filing_outcome o ON o.atena_number = s.atena_number AND o.filing_id = s.submission_id
                    AND o.outcome = 'pending_confirmation'
               WHERE s.kind = 'record_correction'
                 AND NOT EXISTS (
                     SELECT 1 FROM counter.submission c JOIN counter.filing_outcome a
                         ON a.atena_number = c.atena_number AND a.filing_id = c.submission_id
                     WHERE c.confirms_id = s.submission_id AND a.outcome = 'accepted')
               ORDER BY s.submitted_at LIMIT 200""",
        )
        return [_decoded(r, "payload") for r in rows]

    async def correction(self, submission_id: uuid.UUID) -> dict[str, Any] | None:
        row = await self.conn.fetchrow(
            "SELECT * FROM counter.submission WHERE submission_id = $1 AND kind = 'record_correction'", submission_id
        )
        return None if row is None else _decoded(row, "payload")


def new_id() -> str:
    return uuid.uuid4().hex


class SignInFailures:
    """サインインの失敗 (counter.sign_in_failure): append-only, read by the monthly access-log review, and counted
    per terminal and per staff member for the sign-in limits (domain/sign_in_limits.py)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def record(
        self,
        terminal: str,
        staff_id: str | None,
        problem: str,
        at: datetime | None = None,
        limits: SignInLimits | None = None,
    ) -> None:
        """One failure; with ``limits``, also the one row saying a terminal or staff member just reached its
        limit (under a per-key lock, so two failures at once cannot both, or neither, record the change)."""
        async with self.conn.transaction():
            keys = _limited_keys(terminal, staff_id)
            if limits is not None:
                for by, key in keys:  # always terminal before staff: no two requests wait on each other in a cycle
                    await self.conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"counter.sign-in:{by}:{key}")
            await self.conn.execute(
                "INSERT INTO counter.sign_in_failure (failed_at, terminal, staff_id, problem) "
                "VALUES (coalesce($1, now()), $2, $3, $4)",
                at,
                terminal,
                staff_id,
                problem,
            )
            if limits is None:
                return
            for by, key in keys:
                recent = await self._recent(by, key, limits)
                if limits.just_reached(by, len(recent)):
                    refused = SignInRefusedForNow(by, len(recent), recent[limits.limit(by) - 1] + limits.window)
                    await self.conn.execute(
                        "INSERT INTO counter.sign_in_failure (terminal, staff_id, problem, limited_by) "
                        "VALUES ($1, $2, $3, $4)",
                        terminal,
                        staff_id if by is LimitedBy.STAFF else None,
                        refused.record(limits),
                        by.value,
                    )

    async def refusal(
        self, limits: SignInLimits, terminal: str, staff_id: str | None = None
    ) -> SignInRefusedForNow | None:
        """The limit a sign-in from ``terminal`` (of ``staff_id``, once the IdP named them) is over, if any."""
        for by, key in _limited_keys(terminal, staff_id):
            recent = await self._recent(by, key, limits)
            if limits.reached(by, len(recent)):
                # Open again once the oldest of the limit's newest failures leaves the window.
                return SignInRefusedForNow(by, len(recent), recent[limits.limit(by) - 1] + limits.window)
        return None

    async def _recent(self, by: LimitedBy, key: str, limits: SignInLimits) -> list[datetime]:
        """The newest failures of a terminal or staff member within the window, newest first — one more than the
        limit at most (enough to tell "just reached" from "over"); the rows recording a limit are not failures."""
        column = "terminal" if by is LimitedBy.TERMINAL else "staff_id"
        rows = await self.conn.fetch(
            f"""SELECT failed_at FROM counter.sign_in_failure
                WHERE {column} = $1 AND limited_by IS NULL AND failed_at > now() - $2::interval
                ORDER BY failed_at DESC LIMIT $3""",
            key,
            limits.window,
            limits.limit(by) + 1,
        )
        return [r["failed_at"] for r in rows]


def _limited_keys(terminal: str, staff_id: str | None) -> list[tuple[LimitedBy, str]]:
    """What a sign-in attempt counts against: its terminal, and its staff member once the IdP named them."""
    return [(LimitedBy.TERMINAL, terminal)] + ([(LimitedBy.STAFF, staff_id)] if staff_id else [])
