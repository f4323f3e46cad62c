"""JPS processing results (処理結果一覧表の突合結果) published by ``transfer_dispatch`` for ``eligibility``.

The pension office returns a processing-result list for what the city reported (進達). ``transfer_dispatch``
reconciles (突合) each line against what it sent and publishes one event per reported record: matched,
mismatched (naming the fields that differ, never their values), missing from the list, or a line the city
never sent. No My Number travels here: JPS's list carries it, the comparison uses a keyed hash.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, ClassVar

from pydantic import Field, StringConstraints

from .eligibility import ExemptionTier, JpsDecision, JpsReportKind
from .envelope import Event
from .identifiers import AtenaNumber, BasicPensionNumber
from .labels import LabelledEnum


class Reconciliation(LabelledEnum):
    """突合結果."""

    MATCHED = "matched", "一致"
    MISMATCHED = "mismatched", "不一致"  # 項目名を付す
    MISSING = "missing", "送付したが処理結果一覧表にない"
    UNEXPECTED = "unexpected", "処理結果一覧表にあるが送付していない"  # 重複を含む


class JpsOutcome(LabelledEnum):
    """日本年金機構の処理結果."""

    PROCESSED = "processed", "処理済"  # 正常
    RETURNED = "returned", "返戻"  # エラー・要再提出
    PENDING = "pending", "保留"  # 審査中
    NONE = "none", "処理結果なし"  # 一覧表に載っていない


class JpsProcessingResult(Event):
    """処理結果の突合: one reported record as JPS processed it and as it compares with what was sent.

    ``effective_date`` is the 処理日 of the list (or the import date when the list names none).
    """

    event_type: ClassVar[str] = "jp.kokunen.transfer.jps-processing-result.v1"

    atena_number: AtenaNumber = Field(description="宛名番号")
    list_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] = Field(
        description="処理結果一覧表ID (ファイルのSHA-256)"
    )
    line_number: int | None = Field(default=None, ge=1, description="一覧表の行番号 (送付漏れの判定では空)")
    batch_id: Annotated[str, StringConstraints(min_length=1, max_length=80)] | None = Field(
        default=None, description="送付番号 (進達バッチID)"
    )
    report_id: uuid.UUID | None = Field(default=None, description="受付番号 (報告ID)")
    report_kind: JpsReportKind | None = Field(default=None, description="届書等の種類")
    basic_pension_number: BasicPensionNumber | None = Field(default=None, description="基礎年金番号")
    reconciliation: Reconciliation = Field(description="突合結果")
    mismatched_fields: list[str] = Field(default_factory=list, description="不一致の項目名 (値は含まない)")
    jps_outcome: JpsOutcome = Field(description="日本年金機構の処理結果")
    jps_result_code: Annotated[str, StringConstraints(max_length=10)] | None = Field(
        default=None, description="処理結果コード"
    )
    jps_message: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        default=None, description="エラー内容・備考"
    )
    processed_on: date | None = Field(default=None, description="処理年月日 (日本年金機構)")
    jps_decision: JpsDecision | None = Field(
        default=None, description="日本年金機構の決定 (免除等申請の承認・却下; 一覧表の審査結果)"
    )
    jps_approved_tier: ExemptionTier | None = Field(
        default=None, description="承認された区分 (一覧表の承認区分; 空なら進達した区分のとおり)"
    )
