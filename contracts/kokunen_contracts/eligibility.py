"""Qualification contracts (資格情報) published by ``eligibility``."""

from __future__ import annotations

import uuid
from datetime import date
from typing import ClassVar, Self

from pydantic import Field, model_validator

from .envelope import Event
from .identifiers import AtenaNumber, BasicPensionNumber, PensionCode, SealedMyNumber
from .labels import LabelledEnum


class InsuredCategory(LabelledEnum):
    """被保険者種別."""

    CATEGORY_1 = "category_1", "第1号被保険者"
    CATEGORY_2 = "category_2", "第2号被保険者"
    CATEGORY_3 = "category_3", "第3号被保険者"
    VOLUNTARY = "voluntary", "任意加入被保険者"


class AcquisitionReason(LabelledEnum):
    """資格取得事由."""

    REACHED_20 = "reached_20", "20歳到達"  # 国民年金法8条1号
    MOVED_IN_FROM_ABROAD = "moved_in_from_abroad", "国内に住所を有するに至った"  # 8条2号
    CEASED_EXCLUSION = "ceased_exclusion", "適用除外に該当しなくなった"  # 8条3号
    LEFT_CATEGORY_2 = "left_category_2", "第2号被保険者でなくなった"  # 種別変更
    LEFT_CATEGORY_3 = "left_category_3", "第3号被保険者でなくなった"  # 種別変更
    VOLUNTARY_APPLICATION = "voluntary_application", "任意加入の申出"  # 附則5条
    FILED = "filed", "資格取得届による"  # 届出で事由を特定


class LossReason(LabelledEnum):
    """資格喪失事由."""

    DEATH = "death", "死亡"  # 9条1号: 翌日喪失
    MOVED_ABROAD = "moved_abroad", "国内に住所を有しなくなった"  # 9条2号: 翌日喪失
    REACHED_60 = "reached_60", "60歳到達"  # 9条3号: 当日喪失
    BECAME_EXCLUDED = "became_excluded", "厚年老齢給付等の受給権・適用除外"  # 9条4号: 当日喪失
    BECAME_CATEGORY_2 = "became_category_2", "第2号被保険者となった"  # 種別変更: 当日
    BECAME_CATEGORY_3 = "became_category_3", "第3号被保険者となった"  # 種別変更: 当日
    REACHED_65 = "reached_65", "任意加入"  # 65歳到達
    REACHED_480_MONTHS = "reached_480_months", "任意加入"  # 480月到達
    WITHDREW = "withdrew", "任意加入"  # 喪失の申出
    FILED = "filed", "資格喪失届による"


class QualificationChangeKind(LabelledEnum):
    """資格異動の種類."""

    ACQUIRED = "acquired", "資格取得"
    LOST = "lost", "資格喪失"
    CATEGORY_CHANGED = "category_changed", "種別変更"
    CORRECTED = "corrected", "訂正"  # replaces an earlier event
    CANCELLED = "cancelled", "取消"  # the named event no longer holds


class QualificationChanged(Event):
    """資格異動: a category-1/voluntary insured period began, ended, changed or was corrected.

    ``effective_date`` is the 取得日 / 喪失日 / 種別変更日 that this change is about. The period is
    described as it now stands; ``replaces_event_id`` names the event a correction or cancellation
    supersedes, so that downstream recipients can correct what they were sent.
    """

    event_type: ClassVar[str] = "jp.kokunen.eligibility.qualification-changed.v1"

    atena_number: AtenaNumber = Field(description="宛名番号")
    kind: QualificationChangeKind = Field(description="資格異動の種類")
    period_id: uuid.UUID = Field(description="資格期間ID")
    category: InsuredCategory = Field(description="被保険者種別")
    acquired_on: date = Field(description="資格取得日")
    acquisition_reason: AcquisitionReason = Field(description="資格取得事由")
    lost_on: date | None = Field(default=None, description="資格喪失日")
    loss_reason: LossReason | None = Field(default=None, description="資格喪失事由")
    basic_pension_number: BasicPensionNumber | None = Field(default=None, description="基礎年金番号")
    cause_event_id: uuid.UUID | None = Field(default=None, description="原因となったイベントID")
    replaces_event_id: uuid.UUID | None = Field(default=None, description="訂正・取消対象のイベントID")
    my_number_sealed: SealedMyNumber | None = Field(
        default=None, description="個人番号 (暗号化; 日本年金機構への提供にのみ用いる)"
    )

    @model_validator(mode="after")
    def _period_is_consistent(self) -> Self:
        if (self.lost_on is None) != (self.loss_reason is None):
            raise ValueError("資格喪失日と資格喪失事由は揃って指定してください (lost_on and loss_reason go together)")
        if self.lost_on is not None and self.lost_on < self.acquired_on:
            raise ValueError("資格喪失日が資格取得日より前です (loss before acquisition)")
        if self.kind in (QualificationChangeKind.CORRECTED, QualificationChangeKind.CANCELLED) and (
            self.replaces_event_id is None
        ):
            raise ValueError("a correction or cancellation must name the event it replaces")
        return self


class JpsReportKind(LabelledEnum):
    """進達する届書等の種類: what the city reports to the Japan Pension Service (日本年金機構)."""

    QUALIFICATION_ACQUISITION = "qualification_acquisition", "資格取得届"
    QUALIFICATION_LOSS = "qualification_loss", "資格喪失届"
    CATEGORY_CHANGE = "category_change", "種別変更届"
    NAME_CHANGE = "name_change", "氏名変更届"
    ADDRESS_CHANGE = "address_change", "住所変更届"
    RECORD_CORRECTION = "record_correction", "被保険者記録の訂正"
    ADDITIONAL_PREMIUM_APPLICATION = "additional_premium_application", "付加保険料納付申出"
    ADDITIONAL_PREMIUM_WITHDRAWAL = "additional_premium_withdrawal", "付加保険料納付辞退"
    PENSION_NUMBER_NOTICE_REISSUE = "pension_number_notice_reissue", "基礎年金番号通知書再交付申請"
    EXEMPTION_APPLICATION = "exemption_application", "免除・納付猶予・学生納付特例申請"
    STATUTORY_EXEMPTION = "statutory_exemption", "法定免除届"
    BENEFIT_CLAIM = "benefit_claim", "裁定請求"


class JpsReportDue(Event):
    """進達対象: something received or decided at the city that must be reported to JPS.

    ``transfer_dispatch`` gathers these into the weekly report batch (進達) and answers JPS inquiries
    from them. ``effective_date`` is the date of the reported fact (取得日, 喪失日, …) or, for an
    application, its 受付日. A report that corrects an earlier one names it in ``replaces_report_id``.
    """

    event_type: ClassVar[str] = "jp.kokunen.eligibility.jps-report-due.v1"

    report_id: uuid.UUID = Field(description="受付番号 (報告ID)")
    report_kind: JpsReportKind = Field(description="届書等の種類")
    atena_number: AtenaNumber = Field(description="宛名番号")
    my_number_sealed: SealedMyNumber | None = Field(default=None, description="個人番号 (暗号化)")
    basic_pension_number: BasicPensionNumber | None = Field(default=None, description="基礎年金番号")
    received_on: date = Field(description="受付日")
    category: InsuredCategory | None = Field(default=None, description="被保険者種別")
    acquired_on: date | None = Field(default=None, description="資格取得日")
    acquisition_reason: AcquisitionReason | None = Field(default=None, description="資格取得事由")
    lost_on: date | None = Field(default=None, description="資格喪失日")
    loss_reason: LossReason | None = Field(default=None, description="資格喪失事由")
    exemption_kind: str | None = Field(
        default=None, description="免除等の種類 (全額免除, 4分の3免除, 半額免除, 4分の1免除, 納付猶予, 学生納付特例)"
    )
    exemption_from: date | None = Field(default=None, description="免除等の期間 (始期)")
    exemption_to: date | None = Field(default=None, description="免除等の期間 (終期)")
    pension_code: PensionCode | None = Field(default=None, description="年金コード (裁定請求)")
    replaces_report_id: uuid.UUID | None = Field(default=None, description="訂正対象の報告ID")
    note: str | None = Field(default=None, max_length=400, description="特記事項")


class CalendarFactKind(LabelledEnum):
    """暦による事実: facts that arrive with a date rather than with a notification."""

    REACHED_20 = "reached_20", "20歳到達"  # 8条1号
    REACHED_60 = "reached_60", "60歳到達"  # 9条3号
    MOVE_ABROAD_EFFECTIVE = "move_abroad_effective", "転出予定日の到来"  # 国外転出, 9条2号


class CalendarFact(Event):
    """暦による事実: the eligibility scheduler's record that a dated fact has come about for a person.

    Internal to eligibility (it publishes and consumes it), so that the facts are retained on Kafka and a
    replay rebuilds the slice exactly; the event id is derived from (宛名番号, fact, date), so running the
    scheduler twice, or replaying, changes nothing.
    """

    event_type: ClassVar[str] = "jp.kokunen.eligibility.calendar-fact.v1"

    atena_number: AtenaNumber = Field(description="宛名番号")
    fact: CalendarFactKind = Field(description="事実の種類")
    scheduled_by_event_id: uuid.UUID | None = Field(
        default=None, description="予定された異動のイベントID (転出予定日の到来)"
    )


class AdditionalPremiumChangeKind(LabelledEnum):
    JOINED = "joined", "付加保険料の納付開始"  # 申出
    WITHDRAWN = "withdrawn", "付加保険料の納付終了"  # 辞退・基金加入・資格喪失


class AdditionalPremiumChanged(Event):
    """付加情報の異動 (国民年金法87条の2): 付加保険料 paid from, or no longer paid from, a month."""

    event_type: ClassVar[str] = "jp.kokunen.eligibility.additional-premium-changed.v1"

    atena_number: AtenaNumber = Field(description="宛名番号")
    basic_pension_number: BasicPensionNumber | None = Field(default=None, description="基礎年金番号")
    kind: AdditionalPremiumChangeKind = Field(description="付加加入・付加脱退の別")
    from_month: str = Field(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", description="付加加入月 (YYYY-MM)")
    until_month: str | None = Field(
        default=None, pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", description="付加脱退の前月 (最後の納付月, YYYY-MM)"
    )
    monthly_amount_yen: int = Field(ge=0, description="付加保険料月額 (円)")
    reason: str = Field(max_length=200, description="事由")
