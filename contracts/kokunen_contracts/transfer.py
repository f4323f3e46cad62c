"""Departmental transfer contracts (庁内連携 移転) published by ``transfer_dispatch``.

Each recipient gets exactly the fields of its transfer in the assessment (seed Ⅱ-5) and nothing
else: no My Number leaves on these topics. The record metadata (batch, record id, the record it
corrects) is not personal data and is the same for every transfer.
"""

from __future__ import annotations

import uuid
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
