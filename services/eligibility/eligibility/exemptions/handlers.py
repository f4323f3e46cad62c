"""Service layer of exemptions: applications are checked and screened on receipt, the outcome announced and
reported to JPS; an income that arrives or is corrected later redoes the screenings that read it, and opens a
staff follow-up when the outcome changes. Household and income facts come only from events."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

from kokunen_common.ids import derived_id
from kokunen_common.messaging import Delivery, UnitOfWork
from kokunen_contracts import counter as c
from kokunen_contracts import eligibility as e
from kokunen_contracts.envelope import now
from kokunen_contracts.jps import JpsProcessingResult, Reconciliation
from kokunen_contracts.registry import (
    EXEMPTION_DECIDED,
    EXEMPTION_NOTIFICATION_OUTCOME,
    EXEMPTION_SCREENED,
    JPS_REPORT_DUE,
)
from kokunen_contracts.residency import PersonChanged
from kokunen_contracts.tax import IncomeDeterminationKind, IncomeDetermined

from ..adapters.repository import EligibilityRepository
from ..domain.additional_premium import PremiumStatus
from ..domain.history_diff import stored_history
from ..domain.jps_results import FollowUp
from ..domain.months import YearMonth
from .applications import Application, ApplicationRefusal, Refusal, validate
from .household import household_of
from .jps_decision import Decision, decision_in_force
from .notifications import ExemptionPeriod, Notification, NotificationKind, on_notification
from .repository import ExemptionRepository, lock_incomes
from .screening import (
    ApplicationKind,
    CheckOutcome,
    Household,
    JobLoss,
    ProofKind,
    Tier,
    YearScreening,
    household_day,
    persons_checked,
    screen_year,
    tiers_of,
)
from .statutory import StatutoryReason


def _month(text: str) -> YearMonth:
    year, month = text.split("-")
    return YearMonth(int(year), int(month))


def application_of(event: c.ExemptionApplicationSubmitted) -> Application:
    """The application as the rules read it (contract codes to domain codes, by value)."""
    return Application(
        kind=ApplicationKind(event.kind.value),
        applicant=event.atena_number,
        applied_on=event.received_on,
        first_month=_month(event.first_month),
        last_month=_month(event.last_month),
        requested_tier=Tier(event.requested_tier.value) if event.requested_tier else None,
        spouse=event.spouse_atena_number,
        school=event.school_name,
        job_losses=tuple(JobLoss(j.atena_number, j.separated_on, ProofKind(j.proof.value)) for j in event.job_losses),
        continuation=event.continuation,
    )


def _everyone(applicant: str, household: Household) -> list[str]:
    """Every person any tier may read (the persons of the most demanding tier)."""
    return [atena for _, atena in persons_checked(applicant, household, Tier.FULL)]


def screened_event(
    event_id: uuid.UUID,
    application: c.ExemptionApplicationSubmitted,
    screening: YearScreening | None,
    refusals: tuple[Refusal, ...] = (),
    replaces: uuid.UUID | None = None,
    *,
    recorded_at: datetime | None = None,
) -> e.ExemptionScreened:
    """The screening as the contract carries it (validated as a whole: the batch builds 100,000 of them)."""
    return e.ExemptionScreened.model_validate(
        {
            "event_id": event_id,
            "effective_date": application.received_on,
            "recorded_at": recorded_at or now(),
            "application_id": application.application_id,
            "atena_number": application.atena_number,
            "kind": application.kind,
            "outcome": "refused" if refusals or screening is None else screening.outcome.value,
            "decision": screening.decision.value if screening and screening.decision else None,
            "first_month": application.first_month,
            "last_month": application.last_month,
            "income_year": screening.income_year if screening else None,
            "refusals": [{"reason": r.reason.value, "rule": r.rule, "message": r.message} for r in refusals],
            "checks": [
                {
                    "tier": check.tier.value,
                    "role": check.role.value,
                    "atena_number": check.atena_number,
                    "income_year": check.income_year,
                    "outcome": check.outcome.value,
                    "income_used": check.income_used,
                    "limit": check.limit,
                    "rule": check.rule,
                    "article": check.article,
                }
                for result in (screening.tiers if screening else ())
                for check in result.checks
            ],
            "explanation": list(screening.explanation) if screening else [],
            "replaces_event_id": replaces,
        }
    )


async def _screen_year(
    repo: ExemptionRepository, application: Application, household: Household, day: date
) -> tuple[YearScreening, list[str]]:
    """Screen on the current incomes of everyone the tiers read (locked: see lock_incomes)."""
    persons = _everyone(application.applicant, household)
    await lock_incomes(repo.conn, persons)
    income_year = application.kind.screening_year.income_year_of(application.first_month)
    incomes = await repo.incomes(persons, income_year)
    screening = screen_year(
        application.kind,
        application.applicant,
        application.first_month,
        application.last_month,
        household=household,
        household_on=day,
        income_of=lambda atena, _year: incomes.get(atena),
        requested=application.requested_tier,
        job_losses=application.job_losses,
    )
    return screening, persons


async def on_exemption_application(delivery: Delivery[c.ExemptionApplicationSubmitted], uow: UnitOfWork) -> None:
    """免除等申請の受付: refuse it with its rules, or screen the income of every person the law names, announce
    the result and report the application to JPS (進達) with it."""
    event = delivery.event
    repo = ExemptionRepository(uow.conn)
    screened_id = derived_id(delivery.event_id, "exemption-screened")
    if not await repo.claim_application(event):
        return  # the same 受付番号 again under another event id: already received
    eligibility = EligibilityRepository(uow.conn)
    person = await eligibility.person(event.atena_number)
    application = application_of(event)
    refusals: tuple[Refusal, ...]
    if person is None:
        refusals = (
            Refusal(ApplicationRefusal.UNKNOWN_PERSON, "住民記録との照合", "宛名番号に該当する住民の記録がありません"),
        )
    else:
        history = stored_history(await eligibility.history(event.atena_number))
        refusals = validate(application, person.state.birth, history)
    if refusals:
        screened = screened_event(screened_id, event, None, refusals)
        await repo.save_screening(
            screened, cause_event_id=delivery.event_id, household_on=None, household=None, persons=[]
        )
        uow.publish(EXEMPTION_SCREENED, screened)
        return
    assert person is not None
    day = household_day(application.kind, application.first_month, application.applied_on)
    members = await repo.household_members([event.atena_number], day)
    household = household_of(event.atena_number, members[event.atena_number], application.spouse)
    screening, persons = await _screen_year(repo, application, household, day)
    screened = screened_event(screened_id, event, screening)
    await repo.save_screening(
        screened, cause_event_id=delivery.event_id, household_on=day, household=household, persons=persons
    )
    uow.publish(EXEMPTION_SCREENED, screened)
    uow.publish(
        JPS_REPORT_DUE,
        jps_report(
            derived_id(delivery.event_id, "jps-report-due"),
            event,
            application,
            screening,
            my_number_sealed=person.my_number_sealed,
            basic_pension_number=person.state.basic_pension_number,
        ),
    )


def report_due(
    event_id: uuid.UUID,
    report_id: uuid.UUID,
    kind: e.JpsReportKind,
    atena_number: str,
    received_on: date,
    *,
    my_number_sealed: str | None,
    basic_pension_number: str | None,
    recorded_at: datetime | None = None,
    **fields: Any,
) -> e.JpsReportDue:
    """進達対象 of something received at the counter (申請, 届, 請求): dated by its 受付日."""
    return e.JpsReportDue(
        event_id=event_id,
        effective_date=received_on,
        recorded_at=recorded_at or now(),
        report_id=report_id,
        report_kind=kind,
        atena_number=atena_number,
        my_number_sealed=my_number_sealed,
        basic_pension_number=basic_pension_number,
        received_on=received_on,
        **fields,
    )


def jps_report(
    event_id: uuid.UUID,
    event: c.ExemptionApplicationSubmitted,
    application: Application,
    screening: YearScreening,
    *,
    my_number_sealed: str | None,
    basic_pension_number: str | None,
    recorded_at: datetime | None = None,
) -> e.JpsReportDue:
    """免除等申請の進達: the tier the screening found (or the one asked for), the period, and the result."""
    applied_for = screening.decision or tiers_of(application.kind, application.requested_tier)[0]
    return report_due(
        event_id,
        event.application_id,
        e.JpsReportKind.EXEMPTION_APPLICATION,
        event.atena_number,
        event.received_on,
        my_number_sealed=my_number_sealed,
        basic_pension_number=basic_pension_number,
        recorded_at=recorded_at,
        category=e.InsuredCategory.CATEGORY_1,
        exemption_kind=applied_for.label_ja,
        exemption_from=application.first_month.first_day,
        exemption_to=application.last_month.plus(1).first_day - timedelta(days=1),
        note=screening.summary[:400],
        screening_outcome=e.ScreeningOutcome(screening.outcome.value),
    )


async def record_jps_result(uow: UnitOfWork, result: JpsProcessingResult) -> None:
    """A processing-result line about a reported application: keep JPS's outcome on the application, and its
    decision (承認・却下) with the tier it puts in force, announced on ``eligibility.exemption-decided.v1``."""
    if result.report_kind is not e.JpsReportKind.EXEMPTION_APPLICATION or result.report_id is None:
        return
    repo = ExemptionRepository(uow.conn)
    await repo.record_jps_outcome(result.report_id, result.jps_outcome.value, result.processed_on)
    # A decision counts on a line that answers what the city sent (a line it never sent is for staff to ask about).
    answers = result.reconciliation in (Reconciliation.MATCHED, Reconciliation.MISMATCHED)
    if result.jps_decision is None or not answers:
        return
    basis = await repo.decision_basis(result.report_id)
    if basis is None:
        return
    kind = e.ExemptionApplicationKind(basis["kind"])
    screened = basis["screened_tier"]
    decided = decision_in_force(
        Decision(result.jps_decision.value),
        approved_tier=Tier(result.jps_approved_tier.value) if result.jps_approved_tier else None,
        screened_tier=Tier(screened) if screened else None,
        kind_label=kind.label,
        first_month=_month(basis["first_month"]),
        last_month=_month(basis["last_month"]),
        decided_on=result.processed_on,
    )
    await repo.record_jps_decision(result.report_id, result.jps_decision.value, decided.tier)
    uow.publish(
        EXEMPTION_DECIDED,
        e.ExemptionDecided(
            event_id=derived_id(result.event_id, "exemption-decided"),
            effective_date=result.processed_on or result.effective_date,
            recorded_at=now(),
            application_id=result.report_id,
            atena_number=basis["atena_number"],
            kind=kind,
            jps_decision=e.JpsDecision(result.jps_decision.value),
            tier=e.ExemptionTier(decided.tier.value) if decided.tier else None,
            screened_tier=e.ExemptionTier(screened) if screened else None,
            first_month=basis["first_month"],
            last_month=basis["last_month"],
            decided_on=result.processed_on,
            explanation=decided.explanation[:800],
        ),
    )


# --- incomes and households ----------------------------------------------------------------------


async def remember_household(uow: UnitOfWork, event: PersonChanged) -> None:
    """Keep the household facts of a person change (世帯番号, 続柄, 世帯主) as of its 異動日."""
    await ExemptionRepository(uow.conn).remember_household(event)


async def on_income_determined(delivery: Delivery[IncomeDetermined], uow: UnitOfWork) -> None:
    """所得確定・更正: keep the figure; redo every current screening that read this person's income of that year,
    and when its outcome changes announce the new one and open a follow-up for staff naming the application
    and what changed (JPS may already have decided on the old one)."""
    event = delivery.event
    repo = ExemptionRepository(uow.conn)
    await lock_incomes(uow.conn, [event.atena_number])
    if not await repo.save_income(event):
        return  # a stale or repeated correction: the current figure stays
    for row in await repo.screenings_reading(event.atena_number, event.income_year):
        application = application_of(row.application)
        screening, persons = await _screen_year(repo, application, row.household, row.household_on)
        new_decision = screening.decision.value if screening.decision else None
        if (screening.outcome.value, new_decision) == (row.outcome, row.decision):
            continue
        screened = screened_event(
            derived_id(delivery.event_id, "exemption-screened", row.application.application_id),
            row.application,
            screening,
            replaces=row.event_id,
        )
        await repo.save_screening(
            screened,
            cause_event_id=delivery.event_id,
            household_on=row.household_on,
            household=row.household,
            persons=persons,
        )
        uow.publish(EXEMPTION_SCREENED, screened)
        how = "更正" if event.kind is IncomeDeterminationKind.CORRECTED else "確定"
        before = _TIER_OR_OUTCOME.get(row.decision or row.outcome, row.outcome)
        after = screening.decision.label_ja if screening.decision else screening.outcome.label_ja
        await repo.open_follow_up(
            derived_id(delivery.event_id, "follow-up", row.application.application_id),
            row.application.atena_number,
            FollowUp.EXEMPTION_SCREENING_CHANGED.value,
            row.application.application_id,
            f"受付番号 {row.application.application_id} の{application.kind.label_ja}"
            f"（{application.first_month}〜{application.last_month}）: 宛名番号 {event.atena_number} の"
            f"{event.income_year}年所得の{how}により審査結果が「{before}」から「{after}」に変わりました。"
            "日本年金機構への進達・決定を確認してください",
        )


_TIER_OR_OUTCOME = {
    **{tier.value: tier.label_ja for tier in Tier},
    **{outcome.value: outcome.label_ja for outcome in CheckOutcome},
}


# --- 届出: 法定免除 (89条) and 産前産後免除 (88条の2) ------------------------------------------------


def notification_of(event: c.ExemptionNotificationSubmitted) -> Notification:
    return Notification(
        kind=NotificationKind(event.kind.value),
        received_on=event.received_on,
        statutory_reason=StatutoryReason(event.statutory_reason.value) if event.statutory_reason else None,
        reason_arose_on=event.reason_arose_on,
        reason_ceased_on=event.reason_ceased_on,
        expected_birth_on=event.expected_birth_on,
        born_on=event.born_on,
        multiple_birth=event.multiple_birth,
    )


async def on_exemption_notification(delivery: Delivery[c.ExemptionNotificationSubmitted], uow: UnitOfWork) -> None:
    """免除の届出: record the months of 法定免除 or 産前産後免除 (or end a 法定免除), report it to JPS, and tell the
    counter — or refuse it with its rule."""
    event = delivery.event
    repo = ExemptionRepository(uow.conn)
    eligibility = EligibilityRepository(uow.conn)
    person = await eligibility.person(event.atena_number)

    def outcome(result: ExemptionPeriod | Refusal) -> e.ExemptionNotificationOutcome:
        accepted = isinstance(result, ExemptionPeriod)
        return e.ExemptionNotificationOutcome(
            event_id=derived_id(delivery.event_id, "exemption-notification-outcome"),
            effective_date=event.received_on,
            recorded_at=now(),
            notification_id=event.notification_id,
            atena_number=event.atena_number,
            kind=event.kind,
            accepted=accepted,
            first_month=str(result.months.first) if isinstance(result, ExemptionPeriod) else None,
            last_month=str(result.months.last) if isinstance(result, ExemptionPeriod) and result.months.last else None,
            reason=result.reason if isinstance(result, ExemptionPeriod) else None,
            article=result.article if isinstance(result, ExemptionPeriod) else None,
            refusals=[]
            if isinstance(result, ExemptionPeriod)
            else [e.ApplicationRefusalItem(reason=result.reason.value, rule=result.rule, message=result.message)],
        )

    if person is None:
        uow.publish(
            EXEMPTION_NOTIFICATION_OUTCOME,
            outcome(
                Refusal(
                    ApplicationRefusal.UNKNOWN_PERSON, "住民記録との照合", "宛名番号に該当する住民の記録がありません"
                )
            ),
        )
        return
    history = stored_history(await eligibility.history(event.atena_number))
    open_statutory = await repo.open_statutory_exemption(event.atena_number)
    result = on_notification(notification_of(event), history, open_statutory[1] if open_statutory else None)
    uow.publish(EXEMPTION_NOTIFICATION_OUTCOME, outcome(result))
    if isinstance(result, Refusal):
        return
    ending = event.kind is e.ExemptionNotificationKind.STATUTORY_EXEMPTION_ENDED
    await repo.save_exemption_period(
        derived_id(delivery.event_id, "exemption-period"),
        event.notification_id,
        event.atena_number,
        result,
        supersedes=open_statutory[0] if ending and open_statutory else None,
    )
    statutory = result.status is PremiumStatus.STATUTORY_EXEMPTION
    last = result.months.last
    uow.publish(
        JPS_REPORT_DUE,
        report_due(
            derived_id(delivery.event_id, "jps-report-due"),
            event.notification_id,
            # 産前産後免除届 has no kind of its own on the 進達 medium: an exemption report, kind named.
            e.JpsReportKind.STATUTORY_EXEMPTION if statutory else e.JpsReportKind.EXEMPTION_APPLICATION,
            event.atena_number,
            event.received_on,
            my_number_sealed=person.my_number_sealed,
            basic_pension_number=person.state.basic_pension_number,
            category=e.InsuredCategory.CATEGORY_1,
            exemption_kind="法定免除" if statutory else "産前産後免除",
            exemption_from=result.months.first.first_day,
            exemption_to=last.plus(1).first_day - timedelta(days=1) if last else None,
            note=result.reason[:400],
        ),
    )


async def premium_status_on(uow: UnitOfWork, atena_number: str, day: date) -> PremiumStatus:
    """The person's 免除等 status in the month of ``day`` (for the 付加保険料 rule, 87条の2)."""
    return await ExemptionRepository(uow.conn).premium_status(atena_number, YearMonth.of(day))
