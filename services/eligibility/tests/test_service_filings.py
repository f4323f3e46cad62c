"""Counter filings (届出) on the real broker and database: each either changes the record and is reported
to JPS, or is refused with a specific reason for the counter — never a silent change. A correction takes
effect only once a different staff member confirms it (seed Ⅲ-2 リスク3)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import pytest
from kokunen_contracts.counter import FilingKind, FilingSubmitted
from kokunen_contracts.eligibility import AcquisitionReason, InsuredCategory, LossReason
from kokunen_contracts.registry import FILING_SUBMITTED, PERSON_CHANGED
from kokunen_contracts.residency import PersonChangeKind as K
from kokunen_testing.factories import JST, person_changed
from kokunen_testing.platform import Platform, eventually, outbox_events, unique_atena

pytestmark = pytest.mark.integration

CLERK, SUPERVISOR = "urawa-0042", "urawa-0007"


def filing(atena: str, kind: FilingKind, on: date, **fields: Any) -> FilingSubmitted:
    return FilingSubmitted(
        event_id=uuid.uuid4(),
        effective_date=on,
        recorded_at=datetime.now(JST),
        filing_id=fields.pop("filing_id", uuid.uuid4()),
        kind=kind,
        atena_number=atena,
        received_on=fields.pop("received_on", date(2026, 11, 5)),
        staff_id=fields.pop("staff_id", CLERK),
        department="浦和区役所 保険年金課",
        **fields,
    )


async def insured(platform: Platform, since: date = date(2025, 4, 1), birth: date = date(1985, 6, 15)) -> str:
    """A person insured since ``since``, known to eligibility before any filing is made (filings and person
    changes travel on different topics, which Kafka does not order against each other)."""
    atena = unique_atena()
    await platform.publish(PERSON_CHANGED, [person_changed(atena, K.MOVED_IN_FROM_ABROAD, since, birth=birth)])
    await eventually(lambda: current(platform, atena))
    return atena


async def submit(platform: Platform, *filings: FilingSubmitted) -> list[dict[str, Any]]:
    """Publish filings (each with its own 受付番号, in order) and return their outcomes in that order."""
    await platform.publish(FILING_SUBMITTED, list(filings))
    wanted = {str(f.filing_id) for f in filings}
    atenas = {f.atena_number for f in filings}

    async def outcomes() -> list[dict[str, Any]]:
        found = []
        for atena in atenas:
            found += await outbox_events(platform, "eligibility", "eligibility", "eligibility.filing-outcome.v1", atena)
        return found if len([o for o in found if o["filing_id"] in wanted]) >= len(filings) else []

    by_filing = {o["filing_id"]: o for o in await eventually(outcomes)}
    return [by_filing[str(f.filing_id)] for f in filings]


async def current(platform: Platform, atena: str) -> list[tuple[object, ...]]:
    conn = await platform.connect_as("eligibility")
    try:
        rows = await conn.fetch(
            """SELECT category, acquired_on, acquisition_reason, lost_on, loss_reason
               FROM eligibility.qualification_version WHERE atena_number = $1 AND superseded_at IS NULL
               ORDER BY acquired_on""",
            atena,
        )
        return [tuple(r) for r in rows]
    finally:
        await conn.close()


async def test_an_acquisition_filing_confirms_the_recorded_period_and_keeps_the_pension_number(
    platform: Platform, eligibility: None
) -> None:
    atena = await insured(platform)
    [result] = await submit(
        platform,
        filing(
            atena,
            FilingKind.QUALIFICATION_ACQUISITION,
            date(2025, 4, 1),
            category=InsuredCategory.CATEGORY_1,
            acquired_on=date(2025, 4, 1),
            acquisition_reason=AcquisitionReason.MOVED_IN_FROM_ABROAD,
            basic_pension_number="1234-567890",
            phone="048-829-1111",
        ),
    )
    assert result["outcome"] == "accepted"
    reports = await outbox_events(platform, "eligibility", "eligibility", "eligibility.jps-report-due.v1", atena)
    assert reports[-1]["report_kind"] == "qualification_acquisition"
    assert reports[-1]["basic_pension_number"] == "1234-567890"
    assert reports[-1]["report_id"] == result["filing_id"]
    conn = await platform.connect_as("eligibility")
    try:
        row = await conn.fetchrow(
            "SELECT basic_pension_number, phone FROM eligibility.person WHERE atena_number = $1", atena
        )
    finally:
        await conn.close()
    assert tuple(row) == ("1234-567890", "048-829-1111")


@pytest.mark.parametrize(
    ("name", "make", "rejection"),
    [
        (
            "loss before acquisition",
            lambda a: filing(
                a,
                FilingKind.QUALIFICATION_LOSS,
                date(2025, 1, 1),
                lost_on=date(2025, 1, 1),
                loss_reason=LossReason.FILED,
            ),
            "loss_before_acquisition",
        ),
        (
            "acquisition while insured",
            lambda a: filing(
                a,
                FilingKind.QUALIFICATION_ACQUISITION,
                date(2025, 6, 1),
                category=InsuredCategory.CATEGORY_1,
                acquired_on=date(2025, 6, 1),
                acquisition_reason=AcquisitionReason.FILED,
            ),
            "already_insured",
        ),
        (
            "confirmation with nothing to confirm",
            lambda a: filing(a, FilingKind.CONFIRMATION, date(2026, 11, 5), confirms_filing_id=uuid.uuid4()),
            "nothing_to_confirm",
        ),
        (
            "付加 for a 国民年金基金 member",
            lambda a: filing(
                a, FilingKind.ADDITIONAL_PREMIUM_APPLICATION, date(2026, 11, 5), pension_fund_joined_on=date(2026, 4, 1)
            ),
            "additional_premium_refused",
        ),
    ],
)
async def test_impossible_filings_are_refused_with_a_specific_reason_and_change_nothing(
    platform: Platform, eligibility: None, name: str, make: Any, rejection: str
) -> None:
    atena = await insured(platform)
    before = await current(platform, atena)
    [result] = await submit(platform, make(atena))
    assert result["outcome"] == "rejected", name
    assert result["rejection"] == rejection, name
    assert result["message"]
    assert await current(platform, atena) == before, name


async def test_unknown_person_and_duplicate_filing_are_refused(platform: Platform, eligibility: None) -> None:
    nobody = unique_atena()
    [unknown] = await submit(platform, filing(nobody, FilingKind.PENSION_NUMBER_NOTICE_REISSUE, date(2026, 11, 5)))
    assert (unknown["outcome"], unknown["rejection"]) == ("rejected", "unknown_person")

    atena = await insured(platform)
    first = filing(atena, FilingKind.PENSION_NUMBER_NOTICE_REISSUE, date(2026, 11, 5))
    again = first.model_copy(update={"event_id": uuid.uuid4()})  # the same 受付番号 entered twice
    outcomes = await outbox_events_after(platform, atena, first, again)
    assert [o["outcome"] for o in outcomes] == ["accepted", "rejected"]
    assert outcomes[1]["rejection"] == "duplicate_filing"


async def outbox_events_after(platform: Platform, atena: str, *filings: FilingSubmitted) -> list[dict[str, Any]]:
    await platform.publish(FILING_SUBMITTED, list(filings))

    async def both() -> list[dict[str, Any]]:
        found = await outbox_events(platform, "eligibility", "eligibility", "eligibility.filing-outcome.v1", atena)
        return found if len(found) >= len(filings) else []

    return await eventually(both)


async def test_category_changes_1_to_2_and_back(platform: Platform, eligibility: None) -> None:
    atena = await insured(platform)
    results = await submit(
        platform,
        filing(
            atena,
            FilingKind.CATEGORY_CHANGE,
            date(2026, 4, 1),
            category=InsuredCategory.CATEGORY_2,
            previous_category=InsuredCategory.CATEGORY_1,
        ),
        filing(
            atena,
            FilingKind.CATEGORY_CHANGE,
            date(2026, 10, 1),
            category=InsuredCategory.CATEGORY_1,
            previous_category=InsuredCategory.CATEGORY_2,
        ),
    )
    assert [r["outcome"] for r in results] == ["accepted", "accepted"]
    assert await current(platform, atena) == [
        ("category_1", date(2025, 4, 1), "moved_in_from_abroad", date(2026, 4, 1), "became_category_2"),
        ("category_1", date(2026, 10, 1), "left_category_2", None, None),
    ]
    changes = await outbox_events(platform, "eligibility", "eligibility", "eligibility.qualification-changed.v1", atena)
    assert [c["kind"] for c in changes] == ["acquired", "category_changed", "category_changed"]


async def test_a_correction_takes_effect_only_when_another_staff_member_confirms_it(
    platform: Platform, eligibility: None
) -> None:
    atena = await insured(platform)
    correction = filing(
        atena,
        FilingKind.RECORD_CORRECTION,
        date(2026, 11, 5),
        corrects_period_acquired_on=date(2025, 4, 1),
        acquired_on=date(2025, 3, 28),
    )
    pending, self_confirmed = await submit(
        platform,
        correction,
        filing(atena, FilingKind.CONFIRMATION, date(2026, 11, 5), confirms_filing_id=correction.filing_id),
    )
    assert pending["outcome"] == "pending_confirmation"
    assert (self_confirmed["outcome"], self_confirmed["rejection"]) == ("rejected", "same_staff_confirmation")
    assert await current(platform, atena) == [("category_1", date(2025, 4, 1), "moved_in_from_abroad", None, None)]

    [confirmed] = await submit(
        platform,
        filing(
            atena,
            FilingKind.CONFIRMATION,
            date(2026, 11, 6),
            confirms_filing_id=correction.filing_id,
            staff_id=SUPERVISOR,
        ),
    )
    assert confirmed["outcome"] == "accepted"
    assert await current(platform, atena) == [("category_1", date(2025, 3, 28), "moved_in_from_abroad", None, None)]
    changes = await outbox_events(platform, "eligibility", "eligibility", "eligibility.qualification-changed.v1", atena)
    assert [c["kind"] for c in changes] == ["acquired", "corrected"]
    assert changes[1]["replaces_event_id"] == changes[0]["event_id"]
    assert changes[1]["period_id"] == changes[0]["period_id"]
    reports = await outbox_events(platform, "eligibility", "eligibility", "eligibility.jps-report-due.v1", atena)
    assert reports[-1]["report_kind"] == "record_correction"


async def test_additional_premium_application_and_withdrawal_by_joining_a_fund(
    platform: Platform, eligibility: None
) -> None:
    atena = await insured(platform)
    applied, withdrawn = await submit(
        platform,
        filing(atena, FilingKind.ADDITIONAL_PREMIUM_APPLICATION, date(2026, 5, 20), received_on=date(2026, 5, 20)),
        filing(
            atena,
            FilingKind.ADDITIONAL_PREMIUM_WITHDRAWAL,
            date(2026, 9, 10),
            received_on=date(2026, 9, 10),
            pension_fund_joined_on=date(2026, 9, 10),
        ),
    )
    assert [applied["outcome"], withdrawn["outcome"]] == ["accepted", "accepted"]
    changes = await outbox_events(
        platform, "eligibility", "eligibility", "eligibility.additional-premium-changed.v1", atena
    )
    # 87条の2: paid from the month of the 申出 (400 yen); a fund member is deemed to withdraw on the joining
    # day, no longer paying from the month before that month: last month paid 2026-07.
    assert [(c["kind"], c["from_month"], c["until_month"]) for c in changes] == [
        ("joined", "2026-05", None),
        ("withdrawn", "2026-05", "2026-07"),
    ]
    assert changes[0]["monthly_amount_yen"] == 400
