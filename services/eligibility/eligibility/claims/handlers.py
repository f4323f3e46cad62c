"""Service layer of 裁定請求受付: a claim is checked against the records on receipt, answered to the counter, and
reported to JPS (進達) with its 年金コード; when a 第1号被保険者 dies, staff get a follow-up listing the claims the
family may be entitled to."""

from __future__ import annotations

from kokunen_common.ids import derived_id
from kokunen_common.messaging import Delivery, UnitOfWork
from kokunen_contracts import counter as c
from kokunen_contracts import eligibility as e
from kokunen_contracts.envelope import now
from kokunen_contracts.registry import BENEFIT_CLAIM_RECEIVED, JPS_REPORT_DUE
from kokunen_contracts.residency import PersonChanged, PersonChangeKind

from ..adapters.repository import EligibilityRepository, PersonRecord
from ..domain.history_diff import stored_history
from ..domain.jps_results import FollowUp
from ..exemptions.handlers import report_due
from ..exemptions.repository import ExemptionRepository
from .domain import SURVIVOR_KINDS, Attachment, Claim, ClaimKind, ClaimRefusal, Received, Record, Refused, receive
from .domain import claims_on_death as claims_on_death_of


async def _record(repo: EligibilityRepository, person: PersonRecord, atena_number: str) -> Record:
    history = stored_history(await repo.history(atena_number))
    facts = await repo.facts(atena_number)
    cancelled = {f.cancels for f in facts if f.cancels is not None}
    deaths = [f.on for f in facts if f.kind.value == "died" and f.event_id not in cancelled]
    return Record(person.state.birth, history, person.state.other_category, max(deaths) if deaths else None)


async def on_benefit_claim(delivery: Delivery[c.BenefitClaimSubmitted], uow: UnitOfWork) -> None:
    """裁定請求の受付: refuse it with its rule, or receive it and report it to JPS with its 年金コード."""
    event = delivery.event
    repo = EligibilityRepository(uow.conn)
    kind = ClaimKind(event.kind.value)
    claimant = await repo.person(event.atena_number)
    result: Received | Refused
    if claimant is None:
        result = Refused(ClaimRefusal.UNKNOWN_PERSON, "住民記録との照合", "宛名番号に該当する住民の記録がありません")
    else:
        deceased = None
        if kind in SURVIVOR_KINDS and event.deceased_atena_number is not None:
            found = await repo.person(event.deceased_atena_number, lock=False)
            if found is not None:
                deceased = await _record(repo, found, event.deceased_atena_number)
        claim = Claim(
            kind,
            event.received_on,
            frozenset(Attachment(a.value) for a in event.attachments),
            first_visit_on=event.first_visit_on,
            early=event.early,
        )
        result = receive(claim, await _record(repo, claimant, event.atena_number), deceased)
    received = isinstance(result, Received)
    uow.publish(
        BENEFIT_CLAIM_RECEIVED,
        e.BenefitClaimReceived(
            event_id=derived_id(delivery.event_id, "benefit-claim-received"),
            effective_date=event.received_on,
            recorded_at=now(),
            claim_id=event.claim_id,
            atena_number=event.atena_number,
            kind=event.kind,
            received=received,
            pension_code=result.pension_code if isinstance(result, Received) else None,
            checks=list(result.checks) if isinstance(result, Received) else [],
            refusals=[]
            if isinstance(result, Received)
            else [e.ApplicationRefusalItem(reason=result.reason.value, rule=result.rule, message=result.message)],
        ),
    )
    if not isinstance(result, Received) or claimant is None:
        return
    deceased_note = f"亡くなった方 宛名番号 {event.deceased_atena_number}。" if event.deceased_atena_number else ""
    uow.publish(
        JPS_REPORT_DUE,
        report_due(
            derived_id(delivery.event_id, "jps-report-due"),
            event.claim_id,
            e.JpsReportKind.BENEFIT_CLAIM,
            event.atena_number,
            event.received_on,
            my_number_sealed=claimant.my_number_sealed,
            basic_pension_number=claimant.state.basic_pension_number,
            pension_code=result.pension_code,
            note=(f"{kind.label_ja}。{deceased_note}" + "、".join(result.checks))[:400],
        ),
    )


async def claims_on_death(uow: UnitOfWork, event: PersonChanged) -> None:
    """死亡: when the deceased was a 第1号被保険者, open a follow-up listing the claims the family may make."""
    if event.kind is not PersonChangeKind.DIED:
        return
    repo = EligibilityRepository(uow.conn)
    person = await repo.person(event.atena_number, lock=False)
    if person is None:
        return
    items = claims_on_death_of(await _record(repo, person, event.atena_number))
    if not items:
        return
    await ExemptionRepository(uow.conn).open_follow_up(
        derived_id(event.event_id, "claims-on-death"),
        event.atena_number,
        FollowUp.CLAIMS_ON_DEATH.value,
        None,
        "第1号被保険者の死亡（"
        + event.effective_date.isoformat()
        + "）。遺族が請求できる可能性のある給付: "
        + " / ".join(items),
    )
