"""Qualification contracts (資格情報) published by ``eligibility``."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, ClassVar, Self

from pydantic import Field, StringConstraints, model_validator

from .envelope import ContractModel, Event
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


class ExemptionApplicationKind(LabelledEnum):
    """免除等の申請の種類."""

    EXEMPTION = "exemption", "申請免除"  # 全額・4分の3・半額・4分の1
    PAYMENT_DEFERRAL = "payment_deferral", "納付猶予"  # 50歳未満
    STUDENT_DEFERRAL = "student_deferral", "学生納付特例"


class ExemptionTier(LabelledEnum):
    """免除等の区分."""

    FULL_EXEMPTION = "full_exemption", "全額免除"  # 90条1項
    THREE_QUARTER_EXEMPTION = "three_quarter_exemption", "4分の3免除"  # 90条の2第1項
    HALF_EXEMPTION = "half_exemption", "半額免除"  # 90条の2第2項
    QUARTER_EXEMPTION = "quarter_exemption", "4分の1免除"  # 90条の2第3項
    PAYMENT_DEFERRAL = "payment_deferral", "納付猶予"
    STUDENT_DEFERRAL = "student_deferral", "学生納付特例"  # 90条の3


class ScreeningOutcome(LabelledEnum):
    """所得審査の結果 (the city screens; JPS decides)."""

    PASSED = "passed", "該当"  # decision names the highest tier that passed
    FAILED = "failed", "非該当"  # no tier passed
    INCOME_UNKNOWN = "income_unknown", "所得不明"  # a person's income is not known: not a pass
    REFUSED = "refused", "不受理"  # the application breaks a rule before any screening


class ScreeningRole(LabelledEnum):
    APPLICANT = "applicant", "本人"
    SPOUSE = "spouse", "配偶者"
    HOUSEHOLDER = "householder", "世帯主"


class PersonCheckOutcome(LabelledEnum):
    PASSED = "passed", "該当"
    FAILED = "failed", "非該当"
    INCOME_UNKNOWN = "income_unknown", "所得不明"


class PersonScreening(ContractModel):
    """One person against one tier: the income used, the limit, the rule and its article."""

    tier: ExemptionTier = Field(description="区分")
    role: ScreeningRole = Field(description="本人・配偶者・世帯主の別")
    atena_number: AtenaNumber = Field(description="宛名番号")
    income_year: int = Field(ge=1990, le=2100, description="所得年")
    outcome: PersonCheckOutcome = Field(description="結果")
    income_used: int | None = Field(default=None, description="審査に用いた所得 (円)")
    limit: int | None = Field(default=None, description="基準額 (円)")
    rule: str = Field(max_length=600, description="基準額の内訳と比較 (職員向けの説明)")
    article: str = Field(max_length=200, description="根拠条文")


class ApplicationRefusalItem(ContractModel):
    """不受理の理由: a specific rule, with its article, in words staff can read to the applicant."""

    reason: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,60}$")] = Field(description="理由コード")
    rule: str = Field(max_length=200, description="根拠")
    message: str = Field(max_length=300, description="説明")


class ExemptionScreened(Event):
    """免除等申請の所得審査結果 (eligibility → counter): refused with its rules, or screened per tier and person.

    A screening redone because an income arrived or was corrected (更正) names the one it replaces in
    ``replaces_event_id``. ``effective_date`` is the application's 受付日.
    """

    event_type: ClassVar[str] = "jp.kokunen.eligibility.exemption-screened.v1"

    application_id: uuid.UUID = Field(description="受付番号")
    atena_number: AtenaNumber = Field(description="宛名番号 (申請者)")
    kind: ExemptionApplicationKind = Field(description="申請の種類")
    outcome: ScreeningOutcome = Field(description="審査結果")
    decision: ExemptionTier | None = Field(default=None, description="該当する最も有利な区分")
    first_month: str = Field(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", description="申請期間 始期 (YYYY-MM)")
    last_month: str = Field(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", description="申請期間 終期 (YYYY-MM)")
    income_year: int | None = Field(default=None, ge=1990, le=2100, description="審査した所得年")
    refusals: list[ApplicationRefusalItem] = Field(default_factory=list, description="不受理の理由")
    checks: list[PersonScreening] = Field(default_factory=list, description="区分・対象者ごとの審査")
    explanation: list[Annotated[str, StringConstraints(max_length=800)]] = Field(
        default_factory=list, description="職員向けの説明 (要約と各審査)"
    )
    replaces_event_id: uuid.UUID | None = Field(default=None, description="再審査で置き換える審査結果のイベントID")

    @model_validator(mode="after")
    def _outcome_is_consistent(self) -> Self:
        if (self.outcome is ScreeningOutcome.PASSED) != (self.decision is not None):
            raise ValueError("a decision goes with a passed screening, and only with it")
        if (self.outcome is ScreeningOutcome.REFUSED) != bool(self.refusals):
            raise ValueError("refusals go with a refused application, and only with it")
        return self


class JpsDecision(LabelledEnum):
    """日本年金機構の決定: its 処分 on an application the city reported (免除・納付猶予・学生納付特例申請)."""

    APPROVED = "approved", "承認"
    REJECTED = "rejected", "却下"


class ExemptionDecided(Event):
    """免除等申請の決定 (eligibility → counter): JPS's decision (承認/却下) from the 処理結果一覧表, recorded on the
    application, and the 免除等の区分 the person now has for the application's months because of it.

    The city screens (``exemption-screened``); JPS decides. ``tier`` is what is in force: the tier JPS approved
    (its 承認区分, else the tier the city reported), none when JPS rejected. ``effective_date`` is JPS's 処理年月日.
    """

    event_type: ClassVar[str] = "jp.kokunen.eligibility.exemption-decided.v1"

    application_id: uuid.UUID = Field(description="受付番号")
    atena_number: AtenaNumber = Field(description="宛名番号 (申請者)")
    kind: ExemptionApplicationKind = Field(description="申請の種類")
    jps_decision: JpsDecision = Field(description="日本年金機構の決定")
    tier: ExemptionTier | None = Field(default=None, description="決定により適用される区分 (却下なら空)")
    screened_tier: ExemptionTier | None = Field(default=None, description="市の所得審査で該当した区分")
    first_month: str = Field(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", description="申請期間 始期 (YYYY-MM)")
    last_month: str = Field(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", description="申請期間 終期 (YYYY-MM)")
    decided_on: date | None = Field(default=None, description="処理年月日 (日本年金機構)")
    explanation: Annotated[str, StringConstraints(max_length=800)] = Field(description="職員向けの説明")

    @model_validator(mode="after")
    def _tier_follows_the_decision(self) -> Self:
        if self.jps_decision is JpsDecision.REJECTED and self.tier is not None:
            raise ValueError("a rejected application puts no tier in force")
        return self


class ExemptionNotificationKind(LabelledEnum):
    """免除の届出の種類."""

    STATUTORY_EXEMPTION = "statutory_exemption", "法定免除該当届"  # 89条
    STATUTORY_EXEMPTION_ENDED = "statutory_exemption_ended", "法定免除非該当届"
    PRE_POSTNATAL_EXEMPTION = "pre_postnatal_exemption", "産前産後期間の免除届"  # 88条の2


class ExemptionNotificationOutcome(Event):
    """免除の届出の処理結果 (eligibility → counter): the months of 法定免除・産前産後免除 recorded, or the refusal.

    ``effective_date`` is the 届出's 受付日.
    """

    event_type: ClassVar[str] = "jp.kokunen.eligibility.exemption-notification-outcome.v1"

    notification_id: uuid.UUID = Field(description="受付番号")
    atena_number: AtenaNumber = Field(description="宛名番号")
    kind: ExemptionNotificationKind = Field(description="届出の種類")
    accepted: bool = Field(description="受理 (true) ・不受理 (false)")
    first_month: str | None = Field(
        default=None, pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", description="免除期間 始期 (YYYY-MM)"
    )
    last_month: str | None = Field(
        default=None, pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", description="免除期間 終期 (YYYY-MM; 未定は空)"
    )
    reason: str | None = Field(default=None, max_length=300, description="事由 (職員向けの説明)")
    article: str | None = Field(default=None, max_length=200, description="根拠条文")
    refusals: list[ApplicationRefusalItem] = Field(default_factory=list, description="不受理の理由")

    @model_validator(mode="after")
    def _accepted_or_refused(self) -> Self:
        if self.accepted == bool(self.refusals):
            raise ValueError("refusals go with a refused notification, and only with it")
        if self.accepted and self.first_month is None:
            raise ValueError("an accepted notification names its first month")
        return self


class BenefitClaimKind(LabelledEnum):
    """裁定請求の種類 (the kinds the city receives)."""

    OLD_AGE_BASIC = "old_age_basic", "老齢基礎年金"  # 第1号期間のみ
    DISABILITY_BASIC = "disability_basic", "障害基礎年金"  # 初診日に第1号
    SURVIVORS_BASIC = "survivors_basic", "遺族基礎年金"
    WIDOW_PENSION = "widow_pension", "寡婦年金"
    DEATH_LUMP_SUM = "death_lump_sum", "死亡一時金"
    SPECIAL_DISABILITY_BENEFIT = "special_disability_benefit", "特別障害給付金"
    UNPAID_PENSION = "unpaid_pension", "未支給年金"
    OLD_AGE_WELFARE = "old_age_welfare", "老齢福祉年金"


class BenefitClaimReceived(Event):
    """裁定請求の受付結果 (eligibility → counter): received (reported to JPS under its 年金コード) with what was
    checked, or refused with its rule. ``effective_date`` is the 受付日."""

    event_type: ClassVar[str] = "jp.kokunen.eligibility.benefit-claim-received.v1"

    claim_id: uuid.UUID = Field(description="受付番号")
    atena_number: AtenaNumber = Field(description="宛名番号 (請求者)")
    kind: BenefitClaimKind = Field(description="裁定請求の種類")
    received: bool = Field(description="受付 (true) ・不受理 (false)")
    pension_code: PensionCode | None = Field(default=None, description="年金コード")
    checks: list[Annotated[str, StringConstraints(max_length=300)]] = Field(
        default_factory=list, description="確認した事項 (職員向け)"
    )
    refusals: list[ApplicationRefusalItem] = Field(default_factory=list, description="不受理の理由")

    @model_validator(mode="after")
    def _received_or_refused(self) -> Self:
        if self.received == bool(self.refusals):
            raise ValueError("refusals go with a refused claim, and only with it")
        return self


class ExemptionContinuationRun(Event):
    """継続審査の実行: eligibility's record that it ran the July continuation batch for a 年度.

    Internal to eligibility (it publishes and consumes it), like the calendar facts: the batch reads and writes
    its slice directly, and this event, kept on Kafka, lets a replay run it again at the same point of the
    history (its ids are derived from the year, so a live redelivery finds everything done).
    """

    event_type: ClassVar[str] = "jp.kokunen.eligibility.exemption-continuation-run.v1"

    year: int = Field(ge=2000, le=2100, description="年度 (July of this year to June of the next)")


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
    screening_outcome: ScreeningOutcome | None = Field(
        default=None, description="市の所得審査の結果 (免除等申請; exemption_kind は該当した区分)"
    )


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
