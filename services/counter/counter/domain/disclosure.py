"""開示請求 (保有個人情報の開示請求, 個人情報保護法76条; 番号法30条による特例): everything the pension system holds
on one person as the counter sees it, for that person — as JSON (this model; its JSON Schema is committed) and as a PDF
with the same content.

What it holds and what it leaves out, and why (docs/counter.md, 開示請求):
- the 宛名 slice (4情報, 住民の状況, 基礎年金番号), the 資格の履歴, the income figures used for screening, the filings
  and their outcomes, the exemption and claim decisions (the city's screening, and 日本年金機構's 承認・却下 of each
  exemption application with the tier it put in force), what was provided/transferred to whom and when, and who
  looked at the record (部署, 日時, 操作, 処理事由 — never the staff member's name or id, never the terminal);
- **no My Number**: only whether one is registered. The person holds their own number (個人番号カード); a file
  that circulates after the export should not carry it, and the counter's export path never opens the seal;
- **処理停止 (DV等支援措置)**: the address is withheld (and said to be), because an export can reach someone other
  than the person (a 代理人, a lost file); the person sees it at the counter in person after identification;
- decisions name only the applicant's own screening: a spouse's or householder's income is their own record.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from kokunen_contracts.eligibility import ExemptionTier, JpsDecision
from kokunen_contracts.transfer import SENT_FIELD_LABELS
from pydantic import BaseModel, ConfigDict, Field

from .access_log import ACTION_LABELS, Action
from .display import SEX_LABELS
from .qualification import Period
from .reasons import REASONS, Reason
from .reception import OUTCOME_LABELS, Outcome, kind_label

SCHEMA_ID = "urn:kokunen:counter:disclosure-export:v1"
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "disclosure-export.v1.json"
"""The published JSON Schema of the export, generated from ``DisclosureExport`` (``counter disclosure-schema``)."""
ADDRESS_WITHHELD_NOTE = (
    "処理停止 (DV等支援措置) の対象のため、住所は記載していません。本人確認のうえ窓口でご確認いただけます。"
)
MY_NUMBER_NOTE = "個人番号は記載していません (登録の有無のみ)。番号は個人番号カード等でご確認ください。"


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DisclosedPerson(_Part):
    """宛名: the person as the counter's read model holds them."""

    atena_number: str = Field(description="宛名番号")
    name: str = Field(description="氏名")
    name_kana: str | None = Field(description="氏名カナ")
    birth_date: date = Field(description="生年月日")
    sex: str = Field(description="性別")
    address: str | None = Field(description="住所 (処理停止中は記載しない)")
    address_withheld: bool = Field(description="住所を記載しなかった (処理停止)")
    processing_suspension: bool = Field(description="処理停止 (DV等支援措置) の対象")
    is_resident: bool = Field(description="住民である")
    lives_in_japan: bool = Field(description="国内に居住")
    basic_pension_number: str | None = Field(description="基礎年金番号")
    my_number_registered: bool = Field(description="個人番号の登録の有無 (番号そのものは記載しない)")


class DisclosedPeriod(_Part):
    """資格期間 as it stands now."""

    category: str = Field(description="被保険者種別")
    acquired_on: date = Field(description="資格取得日")
    acquisition_reason: str = Field(description="資格取得事由")
    lost_on: date | None = Field(description="資格喪失日")
    loss_reason: str | None = Field(description="資格喪失事由")
    last_change: str = Field(description="最後の異動")


class DisclosedIncome(_Part):
    """所得: the figures exemption screening uses (the current 更正 of each year)."""

    income_year: int = Field(description="所得年")
    correction_seq: int = Field(description="更正連番 (0: 当初)")
    figures: dict[str, int | bool | str | None] = Field(description="所得の内訳 (税システムから受けた項目)")


class DisclosedFiling(_Part):
    """届出・申請 received at a counter, and what became of it."""

    receipt_id: uuid.UUID = Field(description="受付番号")
    kind: str = Field(description="届出等の種類")
    received_on: date | None = Field(description="受付日 (受付の記録があるとき)")
    department: str | None = Field(description="受け付けた部署")
    outcome: str = Field(description="処理結果")
    explanation: str | None = Field(description="説明・根拠")
    decided_at: datetime | None = Field(description="処理日時")


class DisclosedDecision(_Part):
    """免除・納付猶予の審査, 免除の届出, 裁定請求の受付: the result as eligibility announced it (the latest)."""

    receipt_id: uuid.UUID = Field(description="受付番号")
    kind: str = Field(description="申請・届出・請求の種類")
    outcome: str = Field(description="結果")
    decision: str | None = Field(description="該当した区分 (免除等)")
    months: str | None = Field(description="期間 (YYYY-MM〜YYYY-MM)")
    income_year: int | None = Field(description="審査した所得年")
    grounds: list[str] = Field(description="根拠・理由 (本人に関するもののみ)")
    decided_at: datetime = Field(description="処理日時")


class DisclosedJpsDecision(_Part):
    """日本年金機構の決定 on an exemption application the city reported (承認・却下, from the 処理結果一覧表; the
    latest of each 受付番号): the 免除等の区分 the person has for the application's months because of it."""

    receipt_id: uuid.UUID = Field(description="受付番号 (申請)")
    kind: str = Field(description="申請の種類")
    decision: Literal["承認", "却下"] = Field(description="日本年金機構の決定")
    tier: str | None = Field(description="決定により適用される区分 (却下なら空)")
    screened_tier: str | None = Field(description="市の所得審査で該当した区分")
    months: str = Field(description="期間 (YYYY-MM〜YYYY-MM)")
    decided_on: date | None = Field(description="処理年月日 (日本年金機構)")
    explanation: str = Field(description="説明・根拠")
    recorded_at: datetime = Field(description="市が決定を受けた日時")


class DisclosedTransfer(_Part):
    """提供・移転の記録: what was sent about the person, to whom, when (field names only)."""

    sent_on: date = Field(description="提供・移転日")
    kind: Literal["提供", "移転"] = Field(description="提供・移転の別")
    recipient: str = Field(description="提供・移転先")
    purpose: str = Field(description="利用目的")
    legal_basis: str = Field(description="根拠法令")
    fields: list[str] = Field(description="提供・移転した項目")
    batch_id: str = Field(description="送付番号")
    correction: Literal["訂正", "取消"] | None = Field(description="訂正・取消の別")


class DisclosedAccess(_Part):
    """Who looked at the record: 部署, 日時, 操作, 処理事由 — never the staff member's name, id or terminal."""

    at: datetime = Field(description="処理日時")
    department: str = Field(description="部署")
    action: str = Field(description="操作")
    reason_code: str = Field(description="処理事由 (コード)")
    reason: str = Field(description="処理事由 (区分)")
    reason_text: str = Field(description="処理事由 (内容)")


class DisclosureExport(_Part):
    """開示請求への回答: everything the pension system holds on one person, as the counter sees it."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        title="kokunen 開示請求 出力 (disclosure export) v1",
        json_schema_extra={"$id": SCHEMA_ID},
    )

    schema_version: Literal["1"] = Field(description="この形式の版")
    generated_at: datetime = Field(description="作成日時")
    generated_by_department: str = Field(description="作成した部署")
    reason: str = Field(description="作成の処理事由")
    person: DisclosedPerson
    notes: list[str] = Field(description="記載についての注記")
    qualification_periods: list[DisclosedPeriod] = Field(description="国民年金の資格の履歴")
    incomes: list[DisclosedIncome] = Field(description="免除審査に用いる所得")
    filings: list[DisclosedFiling] = Field(description="届出と処理結果")
    decisions: list[DisclosedDecision] = Field(description="免除・届出・裁定請求の結果")
    # Added within v1 with a default (not required): an export made before it still validates.
    jps_decisions: list[DisclosedJpsDecision] = Field(
        default_factory=list, description="免除・納付猶予・学生納付特例申請に対する日本年金機構の決定 (承認・却下)"
    )
    transfers: list[DisclosedTransfer] = Field(description="提供・移転の記録")
    accesses: list[DisclosedAccess] = Field(description="記録を照会した部署・日時・処理事由")


def _months(first: str | None, last: str | None) -> str | None:
    if first is None:
        return None
    return f"{first}〜{last or ''}"


def _label(enum: Any, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        label: str = enum(value).label
        return label
    except ValueError:
        return value


def decision_from(row: Mapping[str, Any]) -> DisclosedDecision:
    """A decision row (``counter.decision``: source, kind, outcome, detail) as disclosed: the applicant's own."""
    detail: Mapping[str, Any] = row["detail"]
    grounds = [f"{r['message']} ({r['rule']})" for r in detail.get("refusals", [])]
    grounds += [
        f"{c['rule']} ({c['article']})" for c in detail.get("checks", []) if c.get("role") == "applicant"
    ]  # a spouse's or householder's figures are theirs, not the applicant's
    if detail.get("article"):
        grounds.append(str(detail["article"]))
    return DisclosedDecision(
        receipt_id=row["receipt_id"],
        kind=kind_label(row["source"], row["kind"]),
        outcome=row["result"],
        decision=_label(ExemptionTier, detail.get("decision")),
        months=_months(detail.get("first_month"), detail.get("last_month")),
        income_year=detail.get("income_year"),
        grounds=grounds,
        decided_at=row["recorded_at"],
    )


def jps_decision_from(row: Mapping[str, Any]) -> DisclosedJpsDecision:
    """A row of ``counter.exemption_decision`` as disclosed (its explanation names only the applicant's tiers)."""
    return DisclosedJpsDecision(
        receipt_id=row["application_id"],
        kind=kind_label("exemption_application", row["kind"]),
        decision="承認" if row["jps_decision"] == JpsDecision.APPROVED.value else "却下",
        tier=_label(ExemptionTier, row["tier"]),
        screened_tier=_label(ExemptionTier, row["screened_tier"]),
        months=f"{row['first_month']}〜{row['last_month']}",
        decided_on=row["decided_on"],
        explanation=row["explanation"],
        recorded_at=row["recorded_at"],
    )


def access_from(row: Mapping[str, Any]) -> DisclosedAccess:
    action = row["action"]
    label = ACTION_LABELS.get(Action(action), action) if action in set(Action) else action
    if action == Action.SEARCH:
        label = f"{label} (結果に表示)"
    return DisclosedAccess(
        at=row["logged_at"],
        department=row["department"],
        action=label,
        reason_code=row["reason_code"],
        reason=REASONS.get(row["reason_code"], row["reason_code"]),
        reason_text=row["reason_text"],
    )


def build_export(
    *,
    person: Mapping[str, Any],
    periods: Sequence[Period],
    incomes: Iterable[Mapping[str, Any]],
    filings: Iterable[Mapping[str, Any]],
    decisions: Iterable[Mapping[str, Any]],
    jps_decisions: Iterable[Mapping[str, Any]],
    transfers: Iterable[Mapping[str, Any]],
    accesses: Iterable[Mapping[str, Any]],
    reason: Reason,
    department: str,
    at: datetime,
) -> DisclosureExport:
    """The export of one person from the read model's rows (pure: the adapter reads, this decides what shows)."""
    suspended = bool(person["suspended"])
    address = person["address"] if isinstance(person["address"], Mapping) else {}
    notes = [MY_NUMBER_NOTE]
    if suspended:
        notes.append(ADDRESS_WITHHELD_NOTE)
    return DisclosureExport(
        schema_version="1",
        generated_at=at,
        generated_by_department=department,
        reason=f"{reason.label} ({reason.text})",
        person=DisclosedPerson(
            atena_number=person["atena_number"],
            name=person["name"],
            name_kana=person["name_kana"],
            birth_date=person["birth_date"],
            sex=SEX_LABELS.get(str(person["sex"]), str(person["sex"])),
            address=None if suspended else str(address.get("text", "")),
            address_withheld=suspended,
            processing_suspension=suspended,
            is_resident=person["is_resident"],
            lives_in_japan=person["lives_in_japan"],
            basic_pension_number=person["basic_pension_number"],
            my_number_registered=bool(person["has_my_number"]),
        ),
        notes=notes,
        qualification_periods=[
            DisclosedPeriod(
                category=p.category_label,
                acquired_on=p.acquired_on,
                acquisition_reason=p.acquisition_label,
                lost_on=p.lost_on,
                loss_reason=p.loss_label or None,
                last_change=p.change_label,
            )
            for p in periods
        ],
        incomes=[
            DisclosedIncome(income_year=i["income_year"], correction_seq=i["correction_seq"], figures=i["figures"])
            for i in incomes
        ],
        filings=[
            DisclosedFiling(
                receipt_id=f["receipt_id"],
                kind=kind_label(f["source"], f["kind"]),
                received_on=f["received_on"],
                department=f["department"],
                outcome=OUTCOME_LABELS[Outcome(f["outcome"])],
                explanation=f["explanation"],
                decided_at=f["decided_at"],
            )
            for f in filings
        ],
        decisions=[decision_from(d) for d in decisions],
        jps_decisions=[jps_decision_from(d) for d in jps_decisions],
        transfers=[
            DisclosedTransfer(
                sent_on=t["sent_on"],
                kind="提供" if t["kind"] == "provision" else "移転",
                recipient=t["recipient"],
                purpose=t["purpose"],
                legal_basis=t["legal_basis"],
                fields=[SENT_FIELD_LABELS.get(f, f) for f in t["fields"]],
                batch_id=t["batch_id"],
                correction="取消" if t["cancelled"] else ("訂正" if t["corrects_record_id"] else None),
            )
            for t in transfers
        ],
        accesses=[access_from(a) for a in accesses],
    )


def export_schema() -> dict[str, Any]:
    """The JSON Schema of the export (committed as services/counter/schemas/disclosure-export.v1.json)."""
    schema = DisclosureExport.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def schema_text() -> str:
    return json.dumps(export_schema(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
