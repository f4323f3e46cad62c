"""Filings received at the counter (届出・申出・申請) and what they do to a person's record.

Pure: each filing either changes the history (and 年金基本 / 付加情報) and says what to report to JPS, or is
refused with the rule it breaks — never a silent change. A correction of qualification data waits for a
second, different staff member's confirmation (seed Ⅲ-2 リスク3) before it takes effect.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum

from .additional_premium import (
    AdditionalPremiumSituation,
    PremiumStatus,
    additional_premium_monthly_amount,
    decide_additional_premium,
    deemed_withdrawal_on_joining_fund,
    first_additional_premium_month,
)
from .categories import InsuredCategory, OtherCategoryStatus
from .months import YearMonth
from .periods import (
    AlreadyInsuredError,
    CategoryChange,
    LossBeforeAcquisitionError,
    LossWithoutOpenPeriodError,
    NotACategoryChangeError,
    OverlappingPeriodsError,
    QualificationHistory,
    QualificationPeriod,
    QualificationRuleError,
)
from .qualification import Acquisition, AcquisitionReason, Loss, LossReason, category1_obstacles
from .residency_effects import PersonState
from .voluntary import voluntary_acquisition


class FilingKind(StrEnum):
    """届出等の種類 (values of the counter contract)."""

    QUALIFICATION_ACQUISITION = "qualification_acquisition"
    QUALIFICATION_LOSS = "qualification_loss"
    CATEGORY_CHANGE = "category_change"
    NAME_CHANGE = "name_change"
    ADDRESS_CHANGE = "address_change"
    RECORD_CORRECTION = "record_correction"
    CONFIRMATION = "confirmation"
    ADDITIONAL_PREMIUM_APPLICATION = "additional_premium_application"
    ADDITIONAL_PREMIUM_WITHDRAWAL = "additional_premium_withdrawal"
    PENSION_NUMBER_NOTICE_REISSUE = "pension_number_notice_reissue"


class Rejection(StrEnum):
    """不受理の理由 (values of the counter contract)."""

    UNKNOWN_PERSON = "unknown_person"
    DUPLICATE_FILING = "duplicate_filing"
    LOSS_BEFORE_ACQUISITION = "loss_before_acquisition"
    NO_OPEN_PERIOD = "no_open_period"
    ALREADY_INSURED = "already_insured"
    OVERLAPPING_PERIODS = "overlapping_periods"
    NOT_ELIGIBLE = "not_eligible"
    NOT_A_CATEGORY_CHANGE = "not_a_category_change"
    NO_SUCH_PERIOD = "no_such_period"
    NOTHING_TO_CONFIRM = "nothing_to_confirm"
    SAME_STAFF_CONFIRMATION = "same_staff_confirmation"
    ADDITIONAL_PREMIUM_REFUSED = "additional_premium_refused"
    NOT_APPLICABLE = "not_applicable"


@dataclass(frozen=True)
class Filing:
    """A filing as the rules read it."""

    kind: FilingKind
    staff_id: str
    received_on: date
    effective_date: date
    category: InsuredCategory | None = None
    previous_category: InsuredCategory | None = None
    acquired_on: date | None = None
    acquisition_reason: AcquisitionReason | None = None
    lost_on: date | None = None
    loss_reason: LossReason | None = None
    corrects_period_acquired_on: date | None = None
    pension_fund_joined_on: date | None = None
    basic_pension_number: str | None = None


@dataclass(frozen=True)
class Refused:
    reason: Rejection
    rule: str
    message: str


@dataclass(frozen=True)
class AdditionalPremium:
    """付加情報: paying 付加保険料 from ``from_month``; ``until_month`` is the last month paid, once ended."""

    from_month: YearMonth
    until_month: YearMonth | None = None

    @property
    def paying(self) -> bool:
        return self.until_month is None


@dataclass(frozen=True)
class Accepted:
    """The filing's effects. ``report`` names the JPS report (進達) it causes, if any."""

    history: QualificationHistory
    report: str | None = None
    other_category: OtherCategoryStatus | None = None
    additional_premium: AdditionalPremium | None = None
    additional_premium_amount_yen: int | None = None
    pending_confirmation: bool = False
    message: str = "受理"


Outcome = Accepted | Refused

_RULE_ERRORS: dict[type[QualificationRuleError], Rejection] = {
    LossBeforeAcquisitionError: Rejection.LOSS_BEFORE_ACQUISITION,
    LossWithoutOpenPeriodError: Rejection.NO_OPEN_PERIOD,
    AlreadyInsuredError: Rejection.ALREADY_INSURED,
    OverlappingPeriodsError: Rejection.OVERLAPPING_PERIODS,
    NotACategoryChangeError: Rejection.NOT_A_CATEGORY_CHANGE,
}


def refused_by(error: QualificationRuleError) -> Refused:
    reason = next((r for cls, r in _RULE_ERRORS.items() if isinstance(error, cls)), Rejection.NOT_APPLICABLE)
    return Refused(reason, error.rule, str(error))


def on_filing(
    filing: Filing,
    person: PersonState,
    history: QualificationHistory,
    *,
    is_japanese_national: bool,
    additional_premium: AdditionalPremium | None,
    premium_status: PremiumStatus = PremiumStatus.PAYING,
    is_pension_fund_member: bool = False,
    pending_correction: Filing | None = None,
) -> Outcome:
    """Apply one filing to the person's record, or refuse it."""
    try:
        match filing.kind:
            case FilingKind.QUALIFICATION_ACQUISITION:
                return _acquisition(filing, person, history, is_japanese_national)
            case FilingKind.QUALIFICATION_LOSS:
                assert filing.lost_on is not None
                assert filing.loss_reason is not None
                return Accepted(history.lose(Loss(filing.lost_on, filing.loss_reason)), report="qualification_loss")
            case FilingKind.CATEGORY_CHANGE:
                return _category_change(filing, history)
            case FilingKind.NAME_CHANGE | FilingKind.ADDRESS_CHANGE | FilingKind.PENSION_NUMBER_NOTICE_REISSUE:
                return Accepted(history, report=filing.kind.value)
            case FilingKind.RECORD_CORRECTION:
                corrected = _corrected(filing, history)
                if isinstance(corrected, Refused):
                    return corrected
                return Accepted(history, pending_confirmation=True, message="訂正は別の職員の確認後に反映します")
            case FilingKind.CONFIRMATION:
                return _confirmation(filing, history, pending_correction)
            case FilingKind.ADDITIONAL_PREMIUM_APPLICATION:
                return _additional_premium_application(
                    filing, history, additional_premium, premium_status, is_pension_fund_member
                )
            case FilingKind.ADDITIONAL_PREMIUM_WITHDRAWAL:
                return _additional_premium_withdrawal(filing, history, additional_premium)
    except QualificationRuleError as error:
        return refused_by(error)
    raise AssertionError(f"unhandled filing kind {filing.kind}")


def _acquisition(
    filing: Filing, person: PersonState, history: QualificationHistory, is_japanese_national: bool
) -> Outcome:
    """資格取得届 (国民年金法12条) / 任意加入の申出 (附則5条)."""
    assert filing.category is not None
    assert filing.acquired_on is not None
    assert filing.acquisition_reason is not None
    existing = history.period_on(filing.acquired_on)
    if existing is not None and existing.category is filing.category and existing.acquired_on == filing.acquired_on:
        # The period is already recorded (e.g. from the resident record): the filing confirms it.
        return Accepted(history, report="qualification_acquisition", message="既に記録された資格を届出により確認")
    if filing.category is InsuredCategory.VOLUNTARY:
        acquisition = voluntary_acquisition(
            person.situation(),
            filing.acquired_on,
            is_japanese_national=is_japanese_national,
            months_counted=history.insured_months(as_of=filing.acquired_on),
        )
        if acquisition is None:
            return Refused(Rejection.NOT_ELIGIBLE, "国民年金法附則5条1項", "任意加入の要件を満たしません")
        return Accepted(history.acquire(acquisition), report="qualification_acquisition")
    if filing.category is not InsuredCategory.CATEGORY_1:
        return Refused(Rejection.NOT_APPLICABLE, "国民年金法12条", "市町村への資格取得届は第1号・任意加入のみです")
    obstacles = category1_obstacles(person.situation(), filing.acquired_on)
    if obstacles:
        labels = "、".join(sorted(o.label_ja for o in obstacles))
        return Refused(Rejection.NOT_ELIGIBLE, "国民年金法7条1項1号", f"第1号被保険者の要件を満たしません: {labels}")
    acquisition = Acquisition(InsuredCategory.CATEGORY_1, filing.acquired_on, filing.acquisition_reason)
    return Accepted(history.acquire(acquisition), report="qualification_acquisition")


def _category_change(filing: Filing, history: QualificationHistory) -> Outcome:
    """種別変更届 (国民年金法12条, 11条の2): 1 ↔ 2/3, effective on the filing's date."""
    assert filing.category is not None
    assert filing.previous_category is not None
    change = CategoryChange(filing.previous_category, filing.category, filing.effective_date)
    other = {
        InsuredCategory.CATEGORY_2: OtherCategoryStatus.CATEGORY_2,
        InsuredCategory.CATEGORY_3: OtherCategoryStatus.CATEGORY_3,
    }.get(filing.category, OtherCategoryStatus.NONE)
    return Accepted(history.change_category(change), report="category_change", other_category=other)


def _corrected(filing: Filing, history: QualificationHistory) -> QualificationHistory | Refused:
    """The history as the correction would leave it (被保険者記録の訂正), or why it cannot."""
    target = next((p for p in history.periods if p.acquired_on == filing.corrects_period_acquired_on), None)
    if target is None:
        return Refused(Rejection.NO_SUCH_PERIOD, "被保険者記録の訂正", "訂正対象の資格期間がありません")
    corrected = QualificationPeriod(
        category=filing.category or target.category,
        acquired_on=filing.acquired_on or target.acquired_on,
        acquisition_reason=filing.acquisition_reason or target.acquisition_reason,
        lost_on=filing.lost_on if filing.lost_on is not None else target.lost_on,
        loss_reason=filing.loss_reason if filing.lost_on is not None else target.loss_reason,
    )
    if corrected == target:
        return Refused(Rejection.NOT_APPLICABLE, "被保険者記録の訂正", "訂正内容が現在の記録と同じです")
    try:
        return QualificationHistory(tuple(corrected if p is target else p for p in history.periods))
    except QualificationRuleError as error:
        return refused_by(error)
    except ValueError as error:  # e.g. a loss before the acquisition in the corrected period
        return Refused(Rejection.LOSS_BEFORE_ACQUISITION, "国民年金法9条", str(error))


def _confirmation(filing: Filing, history: QualificationHistory, pending: Filing | None) -> Outcome:
    """訂正の確認: applies a pending correction — only if someone other than its author confirms."""
    if pending is None:
        return Refused(Rejection.NOTHING_TO_CONFIRM, "事務処理要領 (確認)", "確認待ちの訂正がありません")
    if pending.staff_id == filing.staff_id:
        return Refused(
            Rejection.SAME_STAFF_CONFIRMATION,
            "特定個人情報保護評価書Ⅲ-2 リスク3",
            "訂正は入力した職員とは別の職員が確認してください",
        )
    corrected = _corrected(pending, history)
    if isinstance(corrected, Refused):
        return corrected
    return Accepted(corrected, report="record_correction", message="訂正を確認し反映しました")


def _additional_premium_application(
    filing: Filing,
    history: QualificationHistory,
    current: AdditionalPremium | None,
    premium_status: PremiumStatus,
    is_pension_fund_member: bool,
) -> Outcome:
    """付加保険料納付申出 (国民年金法87条の2第1項): paid from the month of the 申出."""
    if current is not None and current.paying:
        return Refused(Rejection.NOT_APPLICABLE, "国民年金法87条の2", "既に付加保険料を納付しています")
    period = history.period_on(filing.received_on)
    if period is None:
        return Refused(Rejection.NO_OPEN_PERIOD, "国民年金法87条の2", "申出日に被保険者ではありません")
    decision = decide_additional_premium(
        AdditionalPremiumSituation(period.category, premium_status, is_pension_fund_member)
    )
    if decision.refusal is not None:
        return Refused(Rejection.ADDITIONAL_PREMIUM_REFUSED, "国民年金法87条の2第1項", decision.refusal.label_ja)
    start = first_additional_premium_month(filing.received_on)
    return Accepted(
        history,
        report="additional_premium_application",
        additional_premium=AdditionalPremium(start),
        additional_premium_amount_yen=additional_premium_monthly_amount(start),
    )


def _additional_premium_withdrawal(
    filing: Filing, history: QualificationHistory, current: AdditionalPremium | None
) -> Outcome:
    """付加保険料納付辞退 (87条の2第3項): no longer paid from the month **before** the month of the 申出;
    joining a 国民年金基金 counts as that 申出 on the joining day (87条の2第4項)."""
    if current is None or not current.paying:
        return Refused(Rejection.NOT_APPLICABLE, "国民年金法87条の2第3項", "付加保険料を納付していません")
    day = (
        deemed_withdrawal_on_joining_fund(filing.pension_fund_joined_on)
        if filing.pension_fund_joined_on is not None
        else filing.received_on
    )
    last_paid = max(current.from_month.plus(-1), YearMonth.of(day).plus(-2))
    return Accepted(
        history, report="additional_premium_withdrawal", additional_premium=replace(current, until_month=last_paid)
    )
