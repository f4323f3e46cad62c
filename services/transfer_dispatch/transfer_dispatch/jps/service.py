"""Service layer of the JPS provision (提供1): the weekly 進達, the inquiry answer, and the import and
reconciliation (突合) of processing-result lists. Each runs in one transaction that also appends the
transfer log (提供・移転の記録) or writes the outbox; the medium's files are written before the commit,
so a batch recorded as sent always has its files.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from kokunen_common.crypto import MyNumberVault, SealError
from kokunen_common.ids import derived_id
from kokunen_common.logs import get_logger
from kokunen_common.outbox import OutboxBuffer
from kokunen_contracts.eligibility import ExemptionTier, JpsDecision, JpsReportKind
from kokunen_contracts.envelope import now
from kokunen_contracts.identifiers import InvalidMyNumber, MyNumber
from kokunen_contracts.jps import JpsOutcome, JpsProcessingResult, Reconciliation
from kokunen_contracts.registry import JPS_PROCESSING_RESULT, TRANSFER_RECORDED

from ..adapters.repository import DispatchRepository, log_entry
from ..domain.policy import PolicyBook, RecipientPolicy
from ..domain.records import SentAbout, transfer_recorded
from .adapters import printing
from .adapters.medium import JpsSettings, MediumKey, WrittenMedium, seal, sha256, write_atomically, write_medium
from .adapters.repository import JpsRepository
from .domain import layout, wareki
from .domain.batch import (
    InquiryTarget,
    IsoWeek,
    inquiry_batch_id,
    jps_record,
    manifest,
    not_found_record,
    weekly_batch_id,
)
from .domain.reconcile import FIELD_LABELS, Outcome, SentItem, counts, reconcile
from .domain.results_list import parse

JST = ZoneInfo("Asia/Tokyo")
SOURCE = "/kokunen/transfer_dispatch"
POLICY_ID = "jps"
log = get_logger(__name__)


@dataclass(frozen=True)
class ProvisionResult:
    batch_id: str | None
    record_count: int
    new: bool
    files: WrittenMedium | None = None
    manifest: dict[str, Any] | None = None


@dataclass(frozen=True)
class Provision:
    """What one 進達 or inquiry answer needs besides the database: policy, keys, where files go."""

    policies: PolicyBook
    vault: MyNumberVault
    key: MediumKey
    settings: JpsSettings
    out_dir: Path

    @property
    def policy(self) -> RecipientPolicy:
        policy = self.policies.get(POLICY_ID)
        if not policy.carries_my_number:
            raise ValueError("the jps policy must allow My Number (番号法19条: JPS alone receives it)")
        return policy


def _today(at: datetime) -> date:
    return at.astimezone(JST).date()


def _open_my_number(vault: MyNumberVault, row: Mapping[str, Any]) -> MyNumber | None:
    sealed = row.get("my_number_sealed")
    if not sealed:
        return None
    try:
        return vault.open(sealed, row["atena_number"])
    except SealError:
        # The record still goes (JPS identifies by 基礎年金番号); the manifest counts it, the log names no number.
        log.warning("sealed My Number did not open; sent without it", report_id=str(row.get("report_id")))
        return None


def _build(
    provision: Provision, rows: Sequence[Mapping[str, Any]], *, weekly: bool, batch_id: str
) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]], int]:
    policy = provision.policy
    payloads: list[dict[str, Any]] = []
    items: list[tuple[Any, ...]] = []
    without_my_number = 0
    for seq, row in enumerate(rows, start=1):
        number = _open_my_number(provision.vault, row) if row.get("report_id") else None
        if row.get("report_id") and number is None:
            without_my_number += 1  # not known to the city, or its seal did not open (logged)
        record = (
            jps_record(row, row, number.reveal() if number else None)
            if row.get("report_id")
            else dict(row["not_found"])
        )
        payload = policy.payload(record)  # exactly the jps policy's fields
        payloads.append(payload)
        items.append(
            (
                batch_id,
                seq,
                weekly,
                uuid.UUID(payload["report_id"]) if payload["report_id"] else None,
                payload["report_kind"],
                payload["atena_number"],
                payload["basic_pension_number"],
                payload["insured_category"],
                payload["acquired_on"],
                payload["lost_on"],
                provision.vault.lookup_hash(number) if number else None,
            )
        )
    return payloads, items, without_my_number


async def _provide(
    conn: asyncpg.Connection,
    provision: Provision,
    rows: Sequence[Mapping[str, Any]],
    *,
    batch_id: str,
    batch_kind: str,
    period: str,
    period_text: str,
    inquiry_id: str | None,
    at: datetime,
) -> ProvisionResult:
    policy = provision.policy
    payloads, items, without_my_number = _build(provision, rows, weekly=batch_kind == "weekly", batch_id=batch_id)
    header = {
        "batch_id": batch_id,
        "batch_kind": "W" if batch_kind == "weekly" else "I",
        "period": period,
        "sender_code": provision.settings.jps_sender_code,
        "sender_name": provision.settings.jps_sender_name,
        "recipient": provision.settings.jps_recipient,
        "inquiry_id": inquiry_id or "",
        **layout.date_columns("created_on", _today(at)),
    }
    plain = layout.build_file(header, payloads)
    sealed = seal(plain, provision.key)
    facts = manifest(
        batch_id=batch_id,
        batch_kind=batch_kind,
        period=period,
        payloads=payloads,
        fields=policy.fields,
        plain_sha256=sha256(plain),
        sealed_sha256=sha256(sealed),
        key_id=provision.key.key_id,
        created_at=at,
    )
    facts["records_without_my_number"] = without_my_number
    pdf = printing.render(provision_document(provision, facts, payloads, period_text, at))
    repo = JpsRepository(conn)
    await repo.add_batch(batch_id, batch_kind, period, facts, items)
    await DispatchRepository(conn).append_log(log_entry(policy, batch_id, len(payloads), at))
    # 提供・移転の記録 per person, in this transaction: each line about a known person (a 該当なし line names none).
    outbox = OutboxBuffer(schema="dispatch", source=SOURCE)
    sent = [
        SentAbout(p["atena_number"], p["report_id"], p["replaces_report_id"], with_my_number=bool(p["my_number"]))
        for p in payloads
        if p["atena_number"]
    ]
    outbox.publish_batch(
        TRANSFER_RECORDED,
        transfer_recorded(
            policy, sent, batch_id=batch_id, channel=f"電子媒体 ({batch_id}.dat.enc)", at=at, day=_today(at)
        ),
    )
    await outbox.flush(conn)
    files = write_medium(provision.out_dir, batch_id, sealed, facts, pdf)
    log.info("jps medium written", batch_id=batch_id, records=len(payloads), kind=batch_kind)
    return ProvisionResult(batch_id, len(payloads), True, files, facts)


async def run_weekly_report(
    conn: asyncpg.Connection, provision: Provision, week: IsoWeek, *, at: datetime | None = None
) -> ProvisionResult:
    """週次の進達: every report received in ``week`` not yet sent, as one medium and its printed list.

    Re-running names the same batch and writes nothing; reports of the week that arrive after its batch
    go in a supplementary batch (``-s2`` …).
    """
    at = at or datetime.now(UTC)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('dispatch.batch.jps'))")
        repo = JpsRepository(conn)
        earlier = await repo.weekly_batches(str(week))
        rows = await repo.unsent_reports(week.first_day, week.last_day)
        if not rows:
            last = earlier[-1] if earlier else None
            return ProvisionResult(
                last["batch_id"] if last else None, 0, False, manifest=last["manifest"] if last else None
            )
        period_text = f"{wareki.both(week.first_day)} 〜 {wareki.both(week.last_day)}"
        return await _provide(
            conn,
            provision,
            rows,
            batch_id=weekly_batch_id(week, len(earlier)),
            batch_kind="weekly",
            period=str(week),
            period_text=period_text,
            inquiry_id=None,
            at=at,
        )


async def answer_inquiry(
    conn: asyncpg.Connection,
    provision: Provision,
    inquiry_id: str,
    targets: Sequence[InquiryTarget],
    *,
    at: datetime | None = None,
) -> ProvisionResult:
    """照会回答: every report kept for the persons JPS asks about, and 該当なし for those with none.

    Answering the same 照会番号 again names the same batch and writes nothing.
    """
    at = at or datetime.now(UTC)
    batch_id = inquiry_batch_id(inquiry_id)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('dispatch.batch.jps'))")
        repo = JpsRepository(conn)
        existing = await repo.batch(batch_id)
        if existing is not None:
            return ProvisionResult(batch_id, existing["record_count"], False, manifest=existing["manifest"])
        atenas = [t.atena_number for t in targets if t.atena_number]
        pensions = [t.basic_pension_number for t in targets if t.basic_pension_number]
        rows: list[dict[str, Any]] = await repo.reports_of(atena_numbers=atenas, pension_numbers=pensions)
        for target in targets:
            if not any(
                (target.atena_number and r["atena_number"] == target.atena_number)
                or (target.basic_pension_number and r["basic_pension_number"] == target.basic_pension_number)
                for r in rows
            ):
                rows.append({"report_id": None, "not_found": not_found_record(target, _today(at))})
        return await _provide(
            conn,
            provision,
            rows,
            batch_id=batch_id,
            batch_kind="inquiry",
            period=inquiry_id,
            period_text=f"照会番号 {inquiry_id} ({len(targets)} 件の照会)",
            inquiry_id=inquiry_id,
            at=at,
        )


def _date_text(value: date | None) -> str:
    return wareki.wareki_text(value) if value else ""


def provision_document(
    provision: Provision,
    facts: Mapping[str, Any],
    payloads: Sequence[Mapping[str, Any]],
    period_text: str,
    at: datetime,
) -> printing.Document:
    """送付書 and 受付処理簿 of one medium (no My Number on paper)."""
    policy = provision.policy
    weekly = facts["batch_kind"] == "weekly"
    summary = [(layout.REPORT_KIND_LABELS[k], f"{n} 件") for k, n in facts["counts_by_kind"].items()]
    summary.append(("合計", f"{facts['record_count']} 件"))
    return printing.Document(
        title="国民年金 届書等送付書 (進達)" if weekly else "国民年金 照会回答書",
        cover_lines=[
            ("送付番号", facts["batch_id"]),
            ("作成年月日", wareki.both(_today(at))),
            ("対象期間" if weekly else "照会", period_text),
            ("送付先", f"{provision.settings.jps_recipient} 殿"),
            ("送付元", f"{provision.settings.jps_sender_name} ({provision.settings.jps_sender_code})"),
            ("提供の根拠", policy.legal_basis),
            ("提供の目的", policy.purpose),
            ("電子媒体", f"{facts['batch_id']}.dat.enc ({facts['cipher']}, 鍵ID {facts['key_id']})"),
            ("SHA-256", facts["plain_sha256"]),
        ],
        summary_title="届書等の種類別件数",
        summary=summary,
        list_title=f"受付処理簿 — {facts['batch_id']}",
        columns=[  # 264 mm: within A4 landscape's 267 between the margins
            printing.ListColumn("連番", 10),
            printing.ListColumn("受付年月日", 27),
            printing.ListColumn("届書等の種類", 38),
            printing.ListColumn("基礎年金番号", 24),
            printing.ListColumn("宛名番号", 24),
            printing.ListColumn("氏名", 30),
            printing.ListColumn("生年月日", 27),
            printing.ListColumn("種別", 14),
            printing.ListColumn("資格取得日", 27),
            printing.ListColumn("資格喪失日", 27),
            printing.ListColumn("所得審査", 16),  # 免除等申請: the city's screening, as on the medium
        ],
        rows=[
            [
                str(seq),
                _date_text(p["received_on"]),
                layout.REPORT_KIND_LABELS[p["report_kind"]],
                p["basic_pension_number"] or "",
                p["atena_number"] or "",
                p["name"] or "",
                _date_text(p["birth_date"]),
                layout.CATEGORY_LABELS.get(p["insured_category"] or "", ""),
                _date_text(p["acquired_on"]),
                _date_text(p["lost_on"]),
                layout.SCREENING_OUTCOME_LABELS.get(p.get("screening_outcome") or "", ""),
            ]
            for seq, p in enumerate(payloads, start=1)
        ],
        footer=f"{provision.settings.jps_sender_name} — 提供・移転の記録 {facts['batch_id']}",
    )


# --- processing-result lists (処理結果一覧表) -----------------------------------------------------------

RECONCILIATION_LABELS = {"matched": "一致", "mismatched": "不一致", "missing": "記載なし", "unexpected": "送付外"}
OUTCOME_LABELS = {"processed": "処理済", "returned": "返戻", "pending": "保留", "none": "—"}


@dataclass(frozen=True)
class ImportResult:
    list_id: str
    new: bool
    counts: dict[str, int]
    outcomes: list[Outcome]
    published: int = 0
    report_text: str | None = None
    report_path: Path | None = None
    pdf_path: Path | None = None


def _hasher(vault: MyNumberVault) -> Any:
    def my_number_hash(text: str) -> bytes | None:
        try:
            return vault.lookup_hash(MyNumber(text))
        except InvalidMyNumber:
            return None

    return my_number_hash


def _result_event(list_id: str, n: int, outcome: Outcome, at: datetime) -> JpsProcessingResult | None:
    atena = outcome.atena_number
    if atena is None or not atena.isdigit() or len(atena) > 15:
        return None  # no person to tell eligibility about: the printed report lists it
    line, item = outcome.line, outcome.item
    kind = (item.report_kind if item else None) or (line.report_kind if line else None)
    pension = (item.basic_pension_number if item else None) or (line.basic_pension_number if line else None)
    return JpsProcessingResult(
        event_id=derived_id(uuid.UUID(list_id[:32]), "jps-processing-result", n),
        effective_date=(line.processed_on if line and line.processed_on else _today(at)),
        recorded_at=now(),
        atena_number=atena,
        list_id=list_id,
        line_number=line.line_number if line else None,
        batch_id=(item.batch_id if item else None) or (line.batch_id if line else None),
        report_id=(item.report_id if item else None) or (line.report_id if line else None),
        report_kind=JpsReportKind(kind) if kind and kind in set(JpsReportKind) else None,
        basic_pension_number=pension,
        reconciliation=Reconciliation(outcome.reconciliation),
        mismatched_fields=list(outcome.mismatched_fields),
        jps_outcome=JpsOutcome(line.outcome) if line else JpsOutcome.NONE,
        jps_result_code=line.result_code if line else None,
        jps_message=(line.message[:200] if line and line.message else None),
        processed_on=line.processed_on if line else None,
        jps_decision=JpsDecision(line.decision) if line and line.decision else None,
        jps_approved_tier=ExemptionTier(line.approved_tier) if line and line.approved_tier else None,
    )


async def import_results(
    conn: asyncpg.Connection,
    vault: MyNumberVault,
    data: bytes,
    *,
    file_name: str,
    out_dir: Path,
    at: datetime | None = None,
) -> ImportResult:
    """Import one 処理結果一覧表: reconcile, record, publish one result per record for eligibility, print
    the reconciliation report. The same file (by SHA-256) imports once; again, it is a no-op."""
    at = at or datetime.now(UTC)
    list_id = sha256(data)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('dispatch.jps.results'))")
        repo = JpsRepository(conn)
        done = await repo.result_import(list_id)
        if done is not None:
            return ImportResult(list_id, False, done["counts"], [])
        lines = parse(data)
        batch_ids = sorted({line.batch_id for line in lines if line.batch_id})
        report_ids = [line.report_id for line in lines if line.report_id]
        sent = [SentItem.from_row(r) for r in await repo.items_for(batch_ids, report_ids)]
        outcomes = reconcile(sent, lines, _hasher(vault))
        totals = counts(outcomes)
        outbox = OutboxBuffer(schema="dispatch", source=SOURCE)
        stored: list[tuple[Any, ...]] = []
        published = 0
        for n, outcome in enumerate(outcomes, start=1):
            event = _result_event(list_id, n, outcome, at)
            if event is not None:
                outbox.publish(JPS_PROCESSING_RESULT, event, traced=False)
                published += 1
            stored.append(
                (
                    list_id,
                    n,
                    outcome.line.line_number if outcome.line else None,
                    (outcome.item.batch_id if outcome.item else None)
                    or (outcome.line.batch_id if outcome.line else None),
                    (outcome.item.report_id if outcome.item else None)
                    or (outcome.line.report_id if outcome.line else None),
                    outcome.atena_number,
                    outcome.reconciliation,
                    list(outcome.mismatched_fields),
                    outcome.line.result_code if outcome.line else None,
                    event.event_id if event else None,
                )
            )
        await repo.add_result_import(list_id, file_name, len(lines), totals, stored)
        await outbox.flush(conn)
        text = reconciliation_text(list_id, file_name, totals, outcomes, at)
        report_path = out_dir / f"jps-results-{list_id[:16]}.txt"
        pdf_path = out_dir / f"jps-results-{list_id[:16]}.pdf"
        write_atomically(report_path, text.encode())
        write_atomically(pdf_path, printing.render(reconciliation_document(list_id, file_name, totals, outcomes, at)))
        log.info("jps processing-result list imported", list_id=list_id[:16], lines=len(lines), **totals)
        return ImportResult(list_id, True, totals, outcomes, published, text, report_path, pdf_path)


def _outcome_row(outcome: Outcome) -> list[str]:
    line, item = outcome.line, outcome.item
    return [
        str(line.line_number) if line else "—",
        RECONCILIATION_LABELS[outcome.reconciliation],
        (item.batch_id if item else None) or (line.batch_id if line else None) or "",
        str((item.report_id if item else None) or (line.report_id if line else None) or ""),
        outcome.atena_number or "",
        (item.basic_pension_number if item else None) or (line.basic_pension_number if line else None) or "",
        OUTCOME_LABELS[line.outcome] if line else "—",
        ", ".join(f"{FIELD_LABELS[f]} ({f})" for f in outcome.mismatched_fields) or (outcome.note or ""),
    ]


def reconciliation_text(
    list_id: str, file_name: str, totals: Mapping[str, int], outcomes: Sequence[Outcome], at: datetime
) -> str:
    """The reconciliation report as text (the same content as its PDF)."""
    out = [
        "処理結果一覧表 突合結果",
        f"一覧表ID   {list_id}",
        f"ファイル   {file_name}",
        f"突合日     {wareki.both(_today(at))}",
        "件数       " + "  ".join(f"{RECONCILIATION_LABELS[k]} {v}" for k, v in totals.items()),
        "",
        "\t".join(["行", "突合", "送付番号", "受付番号", "宛名番号", "基礎年金番号", "処理結果", "不一致項目・備考"]),
    ]
    out += ["\t".join(_outcome_row(o)) for o in outcomes]
    return "\n".join(out) + "\n"


def reconciliation_document(
    list_id: str, file_name: str, totals: Mapping[str, int], outcomes: Sequence[Outcome], at: datetime
) -> printing.Document:
    return printing.Document(
        title="処理結果一覧表 突合結果",
        cover_lines=[
            ("一覧表ID", list_id),
            ("ファイル", file_name),
            ("突合日", wareki.both(_today(at))),
        ],
        summary_title="突合結果の件数",
        summary=[(RECONCILIATION_LABELS[k], f"{v} 件") for k, v in totals.items()],
        list_title="突合明細",
        columns=[
            printing.ListColumn("行", 10),
            printing.ListColumn("突合", 16),
            printing.ListColumn("送付番号", 34),
            printing.ListColumn("受付番号", 62),
            printing.ListColumn("宛名番号", 24),
            printing.ListColumn("基礎年金番号", 24),
            printing.ListColumn("処理結果", 16),
            printing.ListColumn("不一致項目・備考", 80),
        ],
        rows=[_outcome_row(o) for o in outcomes],
        footer=f"突合 {list_id[:16]}",
    )
