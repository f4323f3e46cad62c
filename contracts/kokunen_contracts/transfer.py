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

ProcessingMonth = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")]

TRANSFER_RECORD_METADATA = frozenset(
    {"event_id", "effective_date", "recorded_at", "record_id", "batch_id", "corrects_record_id"}
)
"""Envelope and batch fields every transfer record carries besides its policy's data fields."""


class TransferRecord(Event):
    """Fields of every transfer record: which batch it belongs to and which record it corrects."""

    record_id: uuid.UUID = Field(description="移転レコードID")
    batch_id: Annotated[str, StringConstraints(min_length=1, max_length=80)] = Field(
        description="移転バッチID (e.g. nhi-2026-11)"
    )
    corrects_record_id: uuid.UUID | None = Field(default=None, description="訂正対象の移転レコードID")


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
