"""Service layer of the counter: each event the read model needs, kept in the counter's own slice (never read
from another service's tables); a replay of the topics rebuilds it."""

from __future__ import annotations

from kokunen_common.messaging import Delivery, UnitOfWork
from kokunen_contracts.counter import FilingOutcome
from kokunen_contracts.eligibility import (
    AdditionalPremiumChanged,
    ExemptionDecided,
    QualificationChanged,
)
from kokunen_contracts.residency import PersonChanged
from kokunen_contracts.tax import IncomeDetermined
from kokunen_contracts.transfer import TransferRecorded

from .adapters.reception_repository import Answer, Receptions, Submission
from .adapters.repository import ReadModel


async def on_person_changed(delivery: Delivery[PersonChanged], uow: UnitOfWork) -> None:
    """``residency.person-changed.v1``: 4情報, address, 処理停止, My Number still sealed."""
    await ReadModel(uow.conn).person_changed(delivery.event)


async def on_qualification_changed(delivery: Delivery[QualificationChanged], uow: UnitOfWork) -> None:
    """``eligibility.qualification-changed.v1``: the 資格 history (bitemporal), and the 基礎年金番号."""
    await ReadModel(uow.conn).qualification_changed(delivery.event)


async def on_income_determined(delivery: Delivery[IncomeDetermined], uow: UnitOfWork) -> None:
    """``tax.income-determined.v1``: the income figures exemption screening uses."""
    await ReadModel(uow.conn).income_determined(delivery.event)


async def on_filing_outcome(delivery: Delivery[FilingOutcome], uow: UnitOfWork) -> None:
    """``eligibility.filing-outcome.v1``: what became of a filing."""
    await ReadModel(uow.conn).filing_outcome(delivery.event)


async def on_additional_premium_changed(delivery: Delivery[AdditionalPremiumChanged], uow: UnitOfWork) -> None:
    """``eligibility.additional-premium-changed.v1``: 付加保険料."""
    await ReadModel(uow.conn).additional_premium_changed(delivery.event)


async def on_transfer_recorded(delivery: Delivery[TransferRecorded], uow: UnitOfWork) -> None:
    """``dispatch.transfer-recorded.v1``: what was sent about the person, to whom, when (提供・移転の記録)."""
    await ReadModel(uow.conn).transfer_recorded(delivery.event)


async def on_submitted(delivery: Delivery[Submission], uow: UnitOfWork) -> None:
    """``counter.*-submitted.v1``: a 届出・申請・請求 received at a counter (受付処理簿: 受付日, 部署, 職員)."""
    await Receptions(uow.conn).received(delivery.event)


async def on_answered(delivery: Delivery[Answer], uow: UnitOfWork) -> None:
    """``eligibility.exemption-screened.v1``, ``exemption-notification-outcome.v1``, ``benefit-claim-received.v1``:
    what became of an application, a notification or a claim."""
    await Receptions(uow.conn).answered(delivery.event)
    await ReadModel(uow.conn).answered(delivery.event)  # for the person page


async def on_exemption_decided(delivery: Delivery[ExemptionDecided], uow: UnitOfWork) -> None:
    """``eligibility.exemption-decided.v1``: JPS's 承認/却下 of an application (from the 処理結果一覧表)."""
    await ReadModel(uow.conn).exemption_decided(delivery.event)
