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

from .eligibility import (
    AcquisitionReason,
    BenefitClaimKind,
    ExemptionApplicationKind,
    ExemptionNotificationKind,
    ExemptionTier,
    InsuredCategory,
    LossReason,
)
from .envelope import ContractModel, Event
from .identifiers import AtenaNumber, BasicPensionNumber
from .labels import LabelledEnum

StaffId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}$")]


class FieldsRuleError(ValueError):
    """A rule across fields of a filing (what its kind needs, what goes together), naming those fields so that a
    form shows the message beside each of them (pydantic keeps it as the error's ``ctx["error"]``)."""

    def __init__(self, message: str, fields: tuple[str, ...]) -> None:
        super().__init__(message)
        self.fields = fields


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

    REQUIRED_BY_KIND: ClassVar[dict[FilingKind, tuple[str, ...]]] = {
        FilingKind.QUALIFICATION_ACQUISITION: ("category", "acquired_on", "acquisition_reason"),
        FilingKind.QUALIFICATION_LOSS: ("lost_on", "loss_reason"),
        FilingKind.CATEGORY_CHANGE: ("category", "previous_category"),
        FilingKind.RECORD_CORRECTION: ("corrects_period_acquired_on",),
        FilingKind.CONFIRMATION: ("confirms_filing_id",),
    }
    """What each kind needs beyond the common fields."""

    @model_validator(mode="after")
    def _fields_match_kind(self) -> Self:
        missing = tuple(f for f in self.REQUIRED_BY_KIND.get(self.kind, ()) if getattr(self, f) is None)
        if missing:
            raise FieldsRuleError(f"{self.kind.value} needs {', '.join(missing)}", missing)
        if (self.lost_on is None) != (self.loss_reason is None) and self.kind is not FilingKind.RECORD_CORRECTION:
            raise FieldsRuleError(
                "資格喪失日と資格喪失事由は揃って指定してください (lost_on and loss_reason go together)",
                ("lost_on", "loss_reason"),
            )
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


YearMonthText = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")]


class JobLossProof(LabelledEnum):
    """失業等の事実を明らかにする書類 (失業等による特例)."""

    EMPLOYMENT_INSURANCE_CERTIFICATE = "employment_insurance_certificate", "雇用保険受給資格者証"
    SEPARATION_NOTICE = "separation_notice", "雇用保険被保険者離職票"
    BUSINESS_CLOSURE = "business_closure", "廃業届等"
    OTHER = "other", "その他"  # 職員が確認


class JobLossClaim(ContractModel):
    """失業等による特例: who lost their job (本人・配偶者・世帯主), when, and the proof shown at the counter."""

    atena_number: AtenaNumber = Field(description="離職した者の宛名番号")
    separated_on: date = Field(description="離職日 (事業の廃止日)")
    proof: JobLossProof = Field(description="確認書類")


class ExemptionApplicationSubmitted(Event):
    """免除・納付猶予・学生納付特例申請の受付 (国民年金法90条〜90条の3, 平成26年法律64号附則14条).

    ``first_month``–``last_month`` is the period asked for (one 年度: July–June, April–March for 学特).
    ``requested_tier`` None asks for the highest tier that passes (申請免除's usual request).
    ``effective_date`` is the 受付日. The city screens the income (eligibility) and reports to JPS, which decides.
    """

    event_type: ClassVar[str] = "jp.kokunen.counter.exemption-application-submitted.v1"

    application_id: uuid.UUID = Field(description="受付番号")
    kind: ExemptionApplicationKind = Field(description="申請の種類")
    atena_number: AtenaNumber = Field(description="宛名番号 (申請者)")
    received_on: date = Field(description="受付日")
    staff_id: StaffId = Field(description="職員ID (入力者)")
    department: Annotated[str, StringConstraints(min_length=1, max_length=80)] = Field(description="部署")
    first_month: YearMonthText = Field(description="申請期間 始期 (YYYY-MM)")
    last_month: YearMonthText = Field(description="申請期間 終期 (YYYY-MM)")
    requested_tier: ExemptionTier | None = Field(
        default=None, description="希望する区分 (なし: 該当する最も有利な区分)"
    )
    spouse_atena_number: AtenaNumber | None = Field(default=None, description="配偶者の宛名番号 (申請書の記載)")
    school_name: Annotated[str, StringConstraints(min_length=1, max_length=120)] | None = Field(
        default=None, description="学校名 (学生納付特例)"
    )
    job_losses: list[JobLossClaim] = Field(default_factory=list, description="失業等による特例")
    continuation: bool = Field(default=False, description="継続審査の希望 (全額免除・納付猶予)")


class StatutoryExemptionReason(LabelledEnum):
    """法定免除の事由 (国民年金法89条1項)."""

    DISABILITY_PENSION = "disability_pension", "障害基礎年金・障害厚生年金（1級・2級）の受給権者"
    LIVELIHOOD_ASSISTANCE = "livelihood_assistance", "生活保護法による生活扶助"
    DESIGNATED_FACILITY = "designated_facility", "厚生労働省令で定める施設の入所者"


class ExemptionNotificationSubmitted(Event):
    """法定免除・産前産後免除の届出の受付 (国民年金法89条, 88条の2). ``effective_date`` is the 受付日."""

    event_type: ClassVar[str] = "jp.kokunen.counter.exemption-notification-submitted.v1"

    notification_id: uuid.UUID = Field(description="受付番号")
    kind: ExemptionNotificationKind = Field(description="届出の種類")
    atena_number: AtenaNumber = Field(description="宛名番号")
    received_on: date = Field(description="受付日")
    staff_id: StaffId = Field(description="職員ID (入力者)")
    department: Annotated[str, StringConstraints(min_length=1, max_length=80)] = Field(description="部署")
    statutory_reason: StatutoryExemptionReason | None = Field(default=None, description="法定免除の事由")
    reason_arose_on: date | None = Field(default=None, description="該当年月日 (法定免除)")
    reason_ceased_on: date | None = Field(default=None, description="非該当年月日 (法定免除)")
    expected_birth_on: date | None = Field(default=None, description="出産予定日")
    born_on: date | None = Field(default=None, description="出産日 (出産後の届出)")
    multiple_birth: bool = Field(default=False, description="多胎妊娠")

    REQUIRED_BY_KIND: ClassVar[dict[ExemptionNotificationKind, tuple[str, ...]]] = {
        ExemptionNotificationKind.STATUTORY_EXEMPTION: ("statutory_reason", "reason_arose_on"),
        ExemptionNotificationKind.STATUTORY_EXEMPTION_ENDED: ("reason_ceased_on",),
    }
    """What each kind needs; 産前産後 needs the expected birth date or the birth date (either)."""

    @model_validator(mode="after")
    def _fields_match_kind(self) -> Self:
        missing = tuple(f for f in self.REQUIRED_BY_KIND.get(self.kind, ()) if getattr(self, f) is None)
        if missing:
            raise FieldsRuleError(f"{self.kind.value} needs {', '.join(missing)}", missing)
        if self.kind is ExemptionNotificationKind.PRE_POSTNATAL_EXEMPTION and not (
            self.expected_birth_on or self.born_on
        ):
            raise FieldsRuleError(
                "出産予定日か出産日を指定してください (expected_birth_on or born_on)", ("expected_birth_on", "born_on")
            )
        return self


class ClaimAttachment(LabelledEnum):
    """裁定請求書の添付書類."""

    BANK_ACCOUNT = "bank_account", "受取先金融機関の通帳等"
    FAMILY_REGISTER = "family_register", "戸籍謄本等"
    DEATH_CERTIFICATE = "death_certificate", "死亡診断書・死亡届記載事項証明書"
    LIVELIHOOD_PROOF = "livelihood_proof", "生計同一関係に関する申立書・住民票"
    INCOME_PROOF = "income_proof", "所得証明書"
    MEDICAL_CERTIFICATE = "medical_certificate", "診断書"
    FIRST_VISIT_CERTIFICATE = "first_visit_certificate", "受診状況等証明書"
    MEDICAL_HISTORY_STATEMENT = "medical_history_statement", "病歴・就労状況等申立書"
    PENSION_CERTIFICATE = "pension_certificate", "年金証書"
    ENROLMENT_PROOF = "enrolment_proof", "在学・婚姻の事実を明らかにする書類"


class BenefitClaimSubmitted(Event):
    """裁定請求の受付 at the counter: the claimant, the kind, the deceased (遺族・寡婦・死亡一時金・未支給), the
    attachments shown, and what the kind needs (初診日, 繰上げ). ``effective_date`` is the 受付日."""

    event_type: ClassVar[str] = "jp.kokunen.counter.benefit-claim-submitted.v1"

    claim_id: uuid.UUID = Field(description="受付番号")
    kind: BenefitClaimKind = Field(description="裁定請求の種類")
    atena_number: AtenaNumber = Field(description="宛名番号 (請求者)")
    deceased_atena_number: AtenaNumber | None = Field(default=None, description="亡くなった方の宛名番号")
    received_on: date = Field(description="受付日")
    staff_id: StaffId = Field(description="職員ID (入力者)")
    department: Annotated[str, StringConstraints(min_length=1, max_length=80)] = Field(description="部署")
    attachments: list[ClaimAttachment] = Field(default_factory=list, description="添付書類")
    first_visit_on: date | None = Field(default=None, description="初診日 (障害基礎年金・特別障害給付金)")
    early: bool = Field(default=False, description="繰上げ請求 (老齢基礎年金)")
