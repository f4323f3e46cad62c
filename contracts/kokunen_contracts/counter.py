"""Counter (窓口) contracts: what staff receive from citizens — 届出・申出・申請 — as filing events.

The counter service (staff over HTTP) publishes ``counter.filing-submitted.v1``; ``eligibility`` applies
each filing and answers on ``eligibility.filing-outcome.v1`` (accepted, waiting for a second staff member's
confirmation, or rejected with a specific reason). A correction of qualification data takes effect only
after a **different** staff member confirms it (seed Ⅲ-2 リスク3): the confirmation is a filing of its own
that names the correction.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, ClassVar, Self

from pydantic import Field, StringConstraints, model_validator

from .eligibility import AcquisitionReason, InsuredCategory, LossReason
from .envelope import Event
from .identifiers import AtenaNumber, BasicPensionNumber
from .labels import LabelledEnum

StaffId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
PhoneNumber = Annotated[str, StringConstraints(pattern=r"^[0-9+()-]{6,20}$")]


class FilingKind(LabelledEnum):
    """届出等の種類 received at the counter."""

    QUALIFICATION_ACQUISITION = "qualification_acquisition", "資格取得届"  # 任意加入の申出を含む
    QUALIFICATION_LOSS = "qualification_loss", "資格喪失届"
    CATEGORY_CHANGE = "category_change", "種別変更届"
    NAME_CHANGE = "name_change", "氏名変更届"
    ADDRESS_CHANGE = "address_change", "住所変更届"
    RECORD_CORRECTION = "record_correction", "被保険者記録の訂正"  # 要: 別職員の確認
    CONFIRMATION = "confirmation", "訂正の確認"  # 入力者とは別の職員
    ADDITIONAL_PREMIUM_APPLICATION = "additional_premium_application", "付加保険料納付申出"
    ADDITIONAL_PREMIUM_WITHDRAWAL = "additional_premium_withdrawal", "付加保険料納付辞退"
    PENSION_NUMBER_NOTICE_REISSUE = "pension_number_notice_reissue", "基礎年金番号通知書再交付申請"


class FilingSubmitted(Event):
    """届出・申出・申請の受付: one filing as staff entered it.

    ``effective_date`` is the date the filing is about (取得日, 喪失日, 種別変更日, 申出日) or, when it
    names no such date, the 受付日.
    """

    event_type: ClassVar[str] = "jp.kokunen.counter.filing-submitted.v1"

    filing_id: uuid.UUID = Field(description="受付番号")
    kind: FilingKind = Field(description="届出等の種類")
    atena_number: AtenaNumber = Field(description="宛名番号")
    received_on: date = Field(description="受付日")
    staff_id: StaffId = Field(description="職員ID (入力者)")
    department: Annotated[str, StringConstraints(min_length=1, max_length=80)] = Field(description="部署")
    basic_pension_number: BasicPensionNumber | None = Field(default=None, description="基礎年金番号")
    phone: PhoneNumber | None = Field(default=None, description="電話番号")
    category: InsuredCategory | None = Field(default=None, description="被保険者種別 (取得・種別変更後)")
    previous_category: InsuredCategory | None = Field(default=None, description="変更前の被保険者種別")
    acquired_on: date | None = Field(default=None, description="資格取得日")
    acquisition_reason: AcquisitionReason | None = Field(default=None, description="資格取得事由")
    lost_on: date | None = Field(default=None, description="資格喪失日")
    loss_reason: LossReason | None = Field(default=None, description="資格喪失事由")
    corrects_period_acquired_on: date | None = Field(default=None, description="訂正する資格期間の (訂正前の) 取得日")
    confirms_filing_id: uuid.UUID | None = Field(default=None, description="確認する訂正の受付番号")
    pension_fund_joined_on: date | None = Field(default=None, description="国民年金基金の加入日")
    note: Annotated[str, StringConstraints(max_length=400)] | None = Field(default=None, description="特記事項")

    @model_validator(mode="after")
    def _fields_match_kind(self) -> Self:
        required: dict[FilingKind, tuple[str, ...]] = {
            FilingKind.QUALIFICATION_ACQUISITION: ("category", "acquired_on", "acquisition_reason"),
            FilingKind.QUALIFICATION_LOSS: ("lost_on", "loss_reason"),
            FilingKind.CATEGORY_CHANGE: ("category", "previous_category"),
            FilingKind.RECORD_CORRECTION: ("corrects_period_acquired_on",),
            FilingKind.CONFIRMATION: ("confirms_filing_id",),
        }
        missing = [f for f in required.get(self.kind, ()) if getattr(self, f) is None]
        if missing:
            raise ValueError(f"{self.kind.value} needs {', '.join(missing)}")
        if (self.lost_on is None) != (self.loss_reason is None) and self.kind is not FilingKind.RECORD_CORRECTION:
            raise ValueError("資格喪失日と資格喪失事由は揃って指定してください (lost_on and loss_reason go together)")
        return self


class FilingOutcomeKind(LabelledEnum):
    """届出の処理結果."""

    ACCEPTED = "accepted", "受理"  # 反映済み
    PENDING_CONFIRMATION = "pending_confirmation", "確認待ち"  # 別職員の確認後に反映
    REJECTED = "rejected", "不受理"  # 理由付き; 何も変更しない


class FilingRejection(LabelledEnum):
    """不受理の理由: a specific rule, never a silent change."""

    UNKNOWN_PERSON = "unknown_person", "宛名番号に該当する者がいない"
    DUPLICATE_FILING = "duplicate_filing", "同じ受付番号の届出を処理済み"
    LOSS_BEFORE_ACQUISITION = "loss_before_acquisition", "喪失日が取得日より前"
    NO_OPEN_PERIOD = "no_open_period", "喪失・変更する資格がない"
    ALREADY_INSURED = "already_insured", "その日に既に被保険者"
    OVERLAPPING_PERIODS = "overlapping_periods", "資格期間が重複する"
    NOT_ELIGIBLE = "not_eligible", "被保険者となる要件を満たさない"
    NOT_A_CATEGORY_CHANGE = "not_a_category_change", "種別変更として成り立たない"
    NO_SUCH_PERIOD = "no_such_period", "訂正対象の資格期間がない"
    NOTHING_TO_CONFIRM = "nothing_to_confirm", "確認対象の訂正がない"  # 処理済みを含む
    SAME_STAFF_CONFIRMATION = "same_staff_confirmation", "入力者本人による確認"
    ADDITIONAL_PREMIUM_REFUSED = "additional_premium_refused", "付加保険料を納付できない"
    NOT_APPLICABLE = "not_applicable", "その他、届出の内容が適用できない"


class FilingOutcome(Event):
    """届出の処理結果 (eligibility → counter): what became of a filing, and why when it was refused."""

    event_type: ClassVar[str] = "jp.kokunen.eligibility.filing-outcome.v1"

    filing_id: uuid.UUID = Field(description="受付番号")
    kind: FilingKind = Field(description="届出等の種類")
    atena_number: AtenaNumber = Field(description="宛名番号")
    outcome: FilingOutcomeKind = Field(description="処理結果")
    rejection: FilingRejection | None = Field(default=None, description="不受理の理由")
    rule: str | None = Field(default=None, max_length=200, description="根拠条文・規則")
    message: str = Field(max_length=500, description="説明 (個人情報を含まない)")
    caused_event_ids: list[uuid.UUID] = Field(default_factory=list, description="この届出により発生したイベントID")

    @model_validator(mode="after")
    def _rejection_only_when_rejected(self) -> Self:
        if (self.outcome is FilingOutcomeKind.REJECTED) != (self.rejection is not None):
            raise ValueError("a rejection reason goes with a rejected outcome, and only with it")
        return self
