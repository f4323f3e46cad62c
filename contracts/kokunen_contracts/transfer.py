"""Departmental transfer contracts (庁内連携 移転) published by ``transfer_dispatch``.

Each recipient gets exactly the fields of its transfer in the assessment (seed Ⅱ-5) and nothing
else: no My Number leaves on these topics. The record metadata (batch, record id, the record it
corrects) is not personal data and is the same for every transfer.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from datetime import date
from typing import Annotated, ClassVar

from pydantic import Field, StringConstraints

from .eligibility import AcquisitionReason, InsuredCategory, LossReason
from .envelope import Event
from .identifiers import AtenaNumber, BasicPensionNumber
from .labels import LabelledEnum

ProcessingMonth = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")]

TRANSFER_RECORD_METADATA = frozenset(
    {"event_id", "effective_date", "recorded_at", "record_id", "batch_id", "corrects_record_id", "cancelled"}
)
"""Envelope and batch fields every transfer record carries besides its policy's data fields."""


class TransferRecord(Event):
    """Fields of every transfer record: which batch it belongs to and which record it corrects."""

    record_id: uuid.UUID = Field(description="移転レコードID")
    batch_id: Annotated[str, StringConstraints(min_length=1, max_length=80)] = Field(
        description="移転バッチID (e.g. nhi-2026-11)"
    )
    corrects_record_id: uuid.UUID | None = Field(default=None, description="訂正対象の移転レコードID")
    cancelled: bool = Field(
        default=False,
        description="取消: true when this record withdraws the record named in corrects_record_id "
        "(the person left the recipient's population after it was sent)",
    )


class NhiQualificationTransfer(TransferRecord):
    """移転4: 国民年金資格異動情報 → 福祉局 生活福祉部 国保年金課 (monthly).

    Purpose: 国民健康保険の資格取得・喪失の確認. Basis: 番号法9条2項, さいたま市個人番号の利用に関する
    条例4条2項又は3項. Population: insured persons with a qualification change in the processing month.
    """

    event_type: ClassVar[str] = "jp.kokunen.transfer.nhi-qualification-changes.v1"

    basic_pension_number: BasicPensionNumber | None = Field(default=None, description="基礎年金番号")
    atena_number: AtenaNumber = Field(description="宛名番号")
    insured_category: InsuredCategory = Field(description="被保険者種別")
    acquired_on: date | None = Field(default=None, description="資格取得日")
    acquisition_reason: AcquisitionReason | None = Field(default=None, description="資格取得理由")
    lost_on: date | None = Field(default=None, description="資格喪失日")
    loss_reason: LossReason | None = Field(default=None, description="資格喪失理由")


class ResidentRegisterPensionTransfer(TransferRecord):
    """移転1: 国民年金資格情報 → 市民局 区政推進部 (随時, as each change is recorded).

    Purpose: 住民票への国民年金の被保険者の資格に関する事項の記載. Basis: 住民基本台帳法7条11号.
    Population: 基礎年金番号を有する者. Keyed by the 基礎年金番号, the only identifier the policy allows.
    """

    event_type: ClassVar[str] = "jp.kokunen.transfer.resident-register-pension.v1"

    basic_pension_number: BasicPensionNumber = Field(description="基礎年金番号")
    insured_category: InsuredCategory = Field(description="被保険者種別")
    acquired_on: date | None = Field(default=None, description="資格取得日")
    lost_on: date | None = Field(default=None, description="資格喪失日")


class ChildAllowanceInsuredTransfer(TransferRecord):
    """移転2: 国民年金資格情報 → 子ども未来局 子育て支援課 (monthly snapshot).

    Purpose: 国民年金第1号被保険者であるかの確認 (児童手当). Basis: 番号法9条2項, さいたま市個人番号の利用に
    関する条例4条. Population: 基礎年金番号を有する者 (everyone known with one, each month).
    """

    event_type: ClassVar[str] = "jp.kokunen.transfer.child-allowance-insured.v1"

    basic_pension_number: BasicPensionNumber = Field(description="基礎年金番号")
    insured_category: InsuredCategory = Field(description="被保険者種別")
    acquired_on: date | None = Field(default=None, description="資格取得日")
    lost_on: date | None = Field(default=None, description="資格喪失日")


class WelfarePensionPaymentCategory(LabelledEnum):
    """老齢福祉年金の支給区分."""

    FULL = "full", "全額支給"
    PARTIALLY_SUSPENDED = "partially_suspended", "一部支給停止"  # 所得制限
    SUSPENDED = "suspended", "全額支給停止"


CertificateSymbol = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z]{1,8}$")]
CertificateNumber = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,10}$")]


class LongTermCareWelfarePensionTransfer(TransferRecord):
    """移転3: 老齢福祉年金受給者情報 → 福祉局 長寿応援部 介護保険課 (monthly snapshot).

    Purpose: 介護保険業務の賦課、徴収、認定、給付管理. Basis: 番号法9条2項, さいたま市個人番号の利用に関する
    条例4条. Population: 老齢福祉年金受給者.
    """

    event_type: ClassVar[str] = "jp.kokunen.transfer.long-term-care-welfare-pension.v1"

    atena_number: AtenaNumber = Field(description="宛名番号")
    certificate_symbol: CertificateSymbol = Field(description="証書記号")
    certificate_number: CertificateNumber = Field(description="証書番号")
    payment_category: WelfarePensionPaymentCategory = Field(description="支給区分")


class DisclosureKind(LabelledEnum):
    """提供 or 移転 (番号法: 提供 to another body, 移転 within the city's own organisation)."""

    PROVISION = "provision", "提供"
    TRANSFER = "transfer", "移転"


FieldName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,59}$")]

SENT_FIELD_LABELS: dict[str, str] = {
    "report_id": "受付番号",
    "report_kind": "届書等の種類",
    "received_on": "受付年月日",
    "my_number": "個人番号",
    "basic_pension_number": "基礎年金番号",
    "atena_number": "宛名番号",
    "name": "氏名",
    "name_kana": "氏名カナ",
    "sex": "性別",
    "birth_date": "生年月日",
    "postal_code": "郵便番号",
    "address": "住所",
    "insured_category": "被保険者種別",
    "acquired_on": "資格取得年月日",
    "acquisition_reason": "資格取得事由",
    "lost_on": "資格喪失年月日",
    "loss_reason": "資格喪失事由",
    "exemption_kind": "免除等の種類",
    "exemption_from": "免除等の期間 (始期)",
    "exemption_to": "免除等の期間 (終期)",
    "pension_code": "年金コード",
    "replaces_report_id": "訂正対象の受付番号",
    "screening_outcome": "所得審査結果",
    "certificate_symbol": "証書記号",
    "certificate_number": "証書番号",
    "payment_category": "支給区分",
}
"""The Japanese name of each field a policy may send, as ``TransferRecorded.fields`` names it (every policy's
fields have one: transfer_dispatch's policy test)."""


class TransferRecorded(Event):
    """提供・移転の記録 (per person): one record about this person left for a recipient in a recorded batch.

    Published by ``transfer_dispatch`` in the same transaction as the transfer itself (移転1 随時, the monthly
    batches of 移転2–4, the JPS provision 提供1) so that the counter can show a resident what was sent about
    them, to whom, when and why (特定個人情報保護評価書 Ⅲ: 提供・移転の記録; 番号法). It names the fields sent —
    **names only, never their values** — and never carries a My Number: ``my_number`` appears in ``fields``
    only when the record carried the person's number (the JPS provision alone may, 番号法19条).
    ``effective_date`` is the day it was sent (Japan time); ``recorded_at`` the time.
    """

    event_type: ClassVar[str] = "jp.kokunen.dispatch.transfer-recorded.v1"

    atena_number: AtenaNumber = Field(description="宛名番号 (the person the record was about)")
    policy_id: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")] = Field(
        description="提供・移転先の区分 (policies.yaml の id)"
    )
    kind: DisclosureKind = Field(description="提供・移転の別")
    recipient: Annotated[str, StringConstraints(min_length=1, max_length=120)] = Field(description="提供・移転先")
    purpose: Annotated[str, StringConstraints(min_length=1, max_length=300)] = Field(description="利用目的")
    legal_basis: Annotated[str, StringConstraints(min_length=1, max_length=300)] = Field(description="根拠法令")
    fields: list[FieldName] = Field(min_length=1, max_length=40, description="提供・移転した項目 (項目名のみ)")
    batch_id: Annotated[str, StringConstraints(min_length=1, max_length=80)] = Field(
        description="移転バッチID・送付番号 (e.g. nhi-2026-11, jps-2026-W48)"
    )
    channel: Annotated[str, StringConstraints(min_length=1, max_length=120)] = Field(
        description="経路: the topic the record left on, or 電子媒体 (the JPS medium)"
    )
    record_id: uuid.UUID | None = Field(default=None, description="移転レコードID・受付番号 (報告ID)")
    corrects_record_id: uuid.UUID | None = Field(default=None, description="訂正・取消の対象レコードID")
    cancelled: bool = Field(default=False, description="取消 (an earlier record withdrawn)")


EventIdsDigest = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


def event_ids_digest(event_ids: Iterable[uuid.UUID | str]) -> str:
    """The digest a batch-completed marker carries: SHA-256 (hex) of the batch's record event ids, each as its
    lowercase hyphenated text followed by a line feed, in ascending order of that text. The order is the ids'
    own, not the order sent: a department reads the records from several partitions, interleaved as it
    happens, and still gets the same digest."""
    ordered = sorted({str(uuid.UUID(str(e))) for e in event_ids})
    return hashlib.sha256("".join(f"{e}\n" for e in ordered).encode("ascii")).hexdigest()


class TransferBatchCompleted(Event):
    """移転バッチ完了: the marker that follows a monthly batch, on its topic's companion ``…-batch-completed``
    topic (ADR 0052). A department holds the whole batch when it holds ``record_count`` distinct records of
    ``batch_id`` (from every partition of ``record_topic``) and their event ids give ``event_ids_sha256``
    (``event_ids_digest``). The marker may arrive before the batch's last records: wait for them.

    ``effective_date`` is the first day of the 処理月; ``event_id`` derives from the batch id (a rerun that sends
    nothing new sends no marker; a supplementary batch ``-s2`` has its own). No personal data.
    """

    batch_id: Annotated[str, StringConstraints(min_length=1, max_length=80)] = Field(
        description="移転バッチID (e.g. nhi-2026-11, nhi-2026-11-s2)"
    )
    processing_month: ProcessingMonth = Field(description="処理月 (YYYY-MM, 日本時間)")
    record_topic: Annotated[str, StringConstraints(pattern=r"^transfer\.[a-z0-9-]+\.v[1-9][0-9]*$")] = Field(
        description="移転レコードのトピック"
    )
    record_count: int = Field(ge=1, description="バッチの移転レコード件数")
    event_ids_sha256: EventIdsDigest = Field(
        description="移転レコードのイベントIDの要約値: SHA-256 of the records' event ids, each lowercase followed "
        "by a line feed, in ascending order"
    )


class NhiQualificationBatchCompleted(TransferBatchCompleted):
    """移転4 (国保年金課): a monthly batch of ``transfer.nhi-qualification-changes.v1`` is complete."""

    event_type: ClassVar[str] = "jp.kokunen.transfer.nhi-qualification-changes-batch-completed.v1"


class ChildAllowanceBatchCompleted(TransferBatchCompleted):
    """移転2 (子育て支援課): a monthly batch of ``transfer.child-allowance-insured.v1`` is complete."""

    event_type: ClassVar[str] = "jp.kokunen.transfer.child-allowance-insured-batch-completed.v1"


class LongTermCareBatchCompleted(TransferBatchCompleted):
    """移転3 (介護保険課): a monthly batch of ``transfer.long-term-care-welfare-pension.v1`` is complete."""

    event_type: ClassVar[str] = "jp.kokunen.transfer.long-term-care-welfare-pension-batch-completed.v1"
