"""Exemption applications on the real broker and database: households from person changes, incomes from
tax events, an application screened on receipt and reported to JPS with its result; a refused application
names its rule; an income that arrives or is corrected later redoes the screening and opens a follow-up."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import pytest
from eligibility.exemptions.continuation import run_continuation
from kokunen_common.ids import derived_id
from kokunen_contracts.counter import (
    BenefitClaimSubmitted,
    ExemptionApplicationSubmitted,
    ExemptionNotificationSubmitted,
    FilingKind,
    FilingSubmitted,
    JobLossClaim,
    JobLossProof,
)
from kokunen_contracts.eligibility import ExemptionNotificationKind, ExemptionTier, JpsReportKind
from kokunen_contracts.jps import JpsDecision, JpsOutcome, JpsProcessingResult, Reconciliation
from kokunen_contracts.registry import (
    BENEFIT_CLAIM_SUBMITTED,
    EXEMPTION_APPLICATION_SUBMITTED,
    EXEMPTION_DECIDED,
    EXEMPTION_NOTIFICATION_SUBMITTED,
    FILING_SUBMITTED,
    INCOME_DETERMINED,
    JPS_PROCESSING_RESULT,
    PERSON_CHANGED,
)
from kokunen_contracts.residency import PersonChanged
from kokunen_contracts.residency import PersonChangeKind as K
from kokunen_contracts.tax import IncomeDetermined
from kokunen_testing.factories import JST, exemption_application, person_changed
from kokunen_testing.platform import Platform, eventually, outbox_events, unique_atena

pytestmark = pytest.mark.integration

RECEIVED = date(2026, 7, 10)


def member(atena: str, household: str, relationship: str, householder: str, **kw: Any) -> PersonChanged:
    event = person_changed(atena, K.MOVED_IN_FROM_ABROAD, date(2025, 4, 1), **kw)
    return PersonChanged.model_validate(
        {
            **event.model_dump(),
            "household_number": household,
            "relationship": relationship,
            "householder_atena_number": householder,
        }
    )


async def household(platform: Platform, *relationships: str, birth: date = date(1985, 6, 15)) -> list[str]:
    """A household whose first member is its 世帯主; every member known to eligibility before anything else."""
    atenas = [unique_atena() for _ in relationships]
    number = atenas[0][::-1]
    await platform.publish(
        PERSON_CHANGED,
        [member(a, number, rel, atenas[0], birth=birth) for a, rel in zip(atenas, relationships, strict=True)],
    )

    async def known() -> bool:
        conn = await platform.connect_as("eligibility")
        try:
            count = await conn.fetchval(
                "SELECT count(*) FROM eligibility.household_version WHERE household_number = $1", number
            )
        finally:
            await conn.close()
        return bool(count == len(atenas))

    await eventually(known)
    return atenas


def income(
    atena: str, total: int, *, seq: int = 0, supersedes: uuid.UUID | None = None, year: int = 2025, **figures: Any
) -> IncomeDetermined:
    values: dict[str, Any] = dict(
        event_id=uuid.uuid4(),
        effective_date=date(year + 1, 6, 10),
        recorded_at=datetime.now(JST),
        atena_number=atena,
        tax_year=year + 1,
        income_year=year,
        assessed_on=date(year + 1, 6, 10),
        correction_seq=seq,
        general_dependants=0,
        elderly_dependants=0,
        specified_dependants=0,
        spouse_deduction="none",
        disabled_dependants=0,
        specially_disabled_dependants=0,
        young_dependants=0,
        disability_class="none",
        widow_class="none",
        working_student=False,
        single_parent=False,
        tax_exempt=False,
        public_pension_misc_income=0,
        total_income=total,
        net_loss=0,
        casualty_loss_deduction=0,
        medical_expense_deduction=0,
        social_insurance_deduction=0,
        spouse_special_deduction=0,
        small_business_mutual_aid_deduction=0,
        kind="corrected" if supersedes else "determined",
        supersedes_event_id=supersedes,
        person_verified=True,
    )
    return IncomeDetermined(**{**values, **figures})


async def incomes_known(platform: Platform, *events: IncomeDetermined) -> None:
    await platform.publish(INCOME_DETERMINED, list(events))

    async def stored() -> bool:
        conn = await platform.connect_as("eligibility")
        try:
            count = await conn.fetchval(
                "SELECT count(*) FROM eligibility.income WHERE event_id = ANY($1::uuid[])", [e.event_id for e in events]
            )
        finally:
            await conn.close()
        return bool(count == len(events))

    await eventually(stored)


def application(atena: str, kind: str = "exemption", **fields: Any) -> ExemptionApplicationSubmitted:
    return exemption_application(
        atena,
        fields.pop("received_on", RECEIVED),
        fields.pop("first_month", "2026-07"),
        fields.pop("last_month", "2027-06"),
        kind=kind,
        staff_id="urawa-0042",
        department="浦和区役所 保険年金課",
        **fields,
    )


async def announced(platform: Platform, topic: str, atena: str, id_field: str, wanted: uuid.UUID) -> dict[str, Any]:
    """The event eligibility announced on ``topic`` whose ``id_field`` is ``wanted``, once it is there."""

    async def found() -> dict[str, Any] | None:
        events = await outbox_events(platform, "eligibility", "eligibility", topic, atena)
        return next((e for e in events if e[id_field] == str(wanted)), None)

    result: dict[str, Any] = await eventually(found)
    return result


async def screenings(platform: Platform, app: ExemptionApplicationSubmitted, count: int = 1) -> list[dict[str, Any]]:
    """The screening outcomes announced for an application, in order, once there are ``count`` of them."""

    async def found() -> list[dict[str, Any]]:
        events = await outbox_events(
            platform, "eligibility", "eligibility", "eligibility.exemption-screened.v1", app.atena_number
        )
        mine = [e for e in events if e["application_id"] == str(app.application_id)]
        return mine if len(mine) >= count else []

    result: list[dict[str, Any]] = await eventually(found)
    return result


async def reports(platform: Platform, atena: str) -> list[dict[str, Any]]:
    events = await outbox_events(platform, "eligibility", "eligibility", "eligibility.jps-report-due.v1", atena)
    return [e for e in events if e["report_kind"] == "exemption_application"]


async def follow_ups(platform: Platform, atena: str) -> list[tuple[str, str]]:
    conn = await platform.connect_as("eligibility")
    try:
        rows = await conn.fetch(
            "SELECT reason, detail FROM eligibility.open_follow_up WHERE atena_number = $1 ORDER BY opened_at", atena
        )
    finally:
        await conn.close()
    return [(r["reason"], r["detail"]) for r in rows]


@pytest.mark.usefixtures("eligibility")
async def test_an_application_is_screened_on_receipt_and_reported_to_jps_with_its_result(platform: Platform) -> None:
    applicant, spouse, parent = await household(platform, "世帯主", "妻", "母")
    await incomes_known(platform, income(applicant, 0), income(spouse, 0), income(parent, 5_000_000))
    app = application(applicant)
    await platform.publish(EXEMPTION_APPLICATION_SUBMITTED, [app])
    (screened,) = await screenings(platform, app)
    # The applicant is the householder: the 母's income is not examined; applicant and 妻 have 0 yen.
    assert (screened["outcome"], screened["decision"], screened["income_year"]) == ("passed", "full_exemption", 2025)
    assert {(c["role"], c["atena_number"]) for c in screened["checks"]} == {
        ("applicant", applicant),
        ("spouse", spouse),
    }
    full = next(c for c in screened["checks"] if c["role"] == "spouse" and c["tier"] == "full_exemption")
    assert (full["income_used"], full["limit"], full["article"]) == (0, 670_000, "国民年金法90条1項1号, 施行令6条の7")
    assert screened["explanation"][0] == "申請免除 2026-07〜2027-06（2025年所得で審査）: 全額免除に該当"

    (report,) = await eventually(lambda: reports(platform, applicant))
    assert report["report_id"] == str(app.application_id)
    assert (report["exemption_kind"], report["exemption_from"], report["exemption_to"]) == (
        "全額免除",
        "2026-07-01",
        "2027-06-30",
    )
    assert report["screening_outcome"] == "passed"
    assert report["category"] == "category_1"


@pytest.mark.usefixtures("eligibility")
async def test_a_dependant_aged_16_to_18_is_deducted_at_630_000_when_the_tax_record_counts_them(
    platform: Platform,
) -> None:
    # 半額: 1,280,000 + 380,000 (一般) + 630,000 (16〜18歳, 施行令6条の9ほか) = 2,290,000 — met exactly.
    (counted,) = await household(platform, "世帯主")
    (older_record,) = await household(platform, "世帯主")
    dependants = {"general_dependants": 2}
    await incomes_known(
        platform,
        income(counted, 2_290_000, general_dependants_aged_16_to_18=1, **dependants),
        income(older_record, 2_290_000, **dependants),  # an older producer: 16〜18歳 not given
    )
    known, unknown = application(counted), application(older_record)
    await platform.publish(EXEMPTION_APPLICATION_SUBMITTED, [known, unknown])
    (screened,) = await screenings(platform, known)
    assert screened["decision"] == "half_exemption"
    half = next(c for c in screened["checks"] if c["tier"] == "half_exemption")
    assert (half["income_used"], half["limit"]) == (2_290_000, 2_290_000)
    assert "16〜18歳の扶養1人×630,000円" in half["rule"]
    # Read as today: both at 380,000 (2,040,000 for 半額, so 4分の1), and the explanation says why.
    (screened,) = await screenings(platform, unknown)
    assert screened["decision"] == "quarter_exemption"
    half = next(c for c in screened["checks"] if c["tier"] == "half_exemption")
    assert (half["outcome"], half["limit"]) == ("failed", 2_040_000)
    assert "16〜18歳の扶養親族の数がない" in half["rule"]


@pytest.mark.usefixtures("eligibility")
async def test_a_job_loss_shown_at_the_counter_reads_that_person_s_income_as_zero(platform: Platform) -> None:
    # 失業等による特例 (90条1項4号): the householder left work in the 年度 before; without it 4分の1 would fail.
    householder, applicant = await household(platform, "世帯主", "子")
    await incomes_known(platform, income(applicant, 0), income(householder, 6_000_000))
    app = application(
        applicant,
        job_losses=[
            JobLossClaim(atena_number=householder, separated_on=date(2026, 3, 31), proof=JobLossProof.SEPARATION_NOTICE)
        ],
    )
    await platform.publish(EXEMPTION_APPLICATION_SUBMITTED, [app])
    (screened,) = await screenings(platform, app)
    assert (screened["outcome"], screened["decision"]) == ("passed", "full_exemption")
    check = next(c for c in screened["checks"] if c["role"] == "householder" and c["tier"] == "full_exemption")
    assert check["income_used"] == 0
    assert "失業等による特例: 離職日 2026-03-31（離職票）" in check["rule"]
    assert check["article"].startswith("国民年金法90条1項4号")


@pytest.mark.usefixtures("eligibility")
async def test_the_householder_s_income_decides_the_tier(platform: Platform) -> None:
    householder, applicant = await household(platform, "世帯主", "子")
    await incomes_known(platform, income(applicant, 0), income(householder, 1_500_000))
    app = application(applicant)
    await platform.publish(EXEMPTION_APPLICATION_SUBMITTED, [app])
    (screened,) = await screenings(platform, app)
    assert (screened["outcome"], screened["decision"]) == ("passed", "quarter_exemption")
    (report,) = await eventually(lambda: reports(platform, applicant))
    assert report["exemption_kind"] == "4分の1免除"


@pytest.mark.usefixtures("eligibility")
async def test_an_income_arriving_and_a_correction_redo_the_screening_and_open_follow_ups(platform: Platform) -> None:
    householder, applicant = await household(platform, "世帯主", "子")
    await incomes_known(platform, income(applicant, 0))
    app = application(applicant)
    await platform.publish(EXEMPTION_APPLICATION_SUBMITTED, [app])
    (first,) = await screenings(platform, app)
    assert (first["outcome"], first["decision"]) == ("income_unknown", None)
    assert f"世帯主（{householder}）" in first["explanation"][0]
    (report,) = await eventually(lambda: reports(platform, applicant))
    assert (report["screening_outcome"], report["exemption_kind"]) == ("income_unknown", "全額免除")

    determined = income(householder, 600_000)
    await platform.publish(INCOME_DETERMINED, [determined])
    _, second = await screenings(platform, app, 2)
    assert (second["outcome"], second["decision"], second["replaces_event_id"]) == (
        "passed",
        "full_exemption",
        first["event_id"],
    )

    await platform.publish(INCOME_DETERMINED, [income(householder, 1_300_000, seq=1, supersedes=determined.event_id)])
    *_, third = await screenings(platform, app, 3)
    assert (third["outcome"], third["decision"]) == ("passed", "quarter_exemption")
    opened = await eventually(lambda: _when(follow_ups(platform, applicant), 2))
    assert [reason for reason, _ in opened] == ["exemption_screening_changed"] * 2
    assert "2025年所得の更正により審査結果が「全額免除」から「4分の1免除」に変わりました" in opened[1][1]
    assert str(app.application_id) in opened[1][1]

    # A stale correction (a lower 更正連番) changes nothing.
    await incomes_known(platform, income(householder, 9_000_000, seq=0, supersedes=determined.event_id))
    assert len(await screenings(platform, app, 3)) == 3


async def _when(result: Any, count: int) -> Any:
    found = await result
    return found if len(found) >= count else None


@pytest.mark.usefixtures("eligibility")
async def test_a_refused_application_names_its_rule_and_is_not_reported(platform: Platform) -> None:
    (applicant,) = await household(platform, "世帯主", birth=date(1976, 8, 1))  # reaches 50 on 2026-07-31
    deferral = application(applicant, "payment_deferral")
    too_far = application(applicant, first_month="2024-05", last_month="2024-06")
    student = application(applicant, "student_deferral", first_month="2026-04", last_month="2027-03")
    await platform.publish(EXEMPTION_APPLICATION_SUBMITTED, [deferral, too_far, student])
    (refused,) = await screenings(platform, deferral)
    assert (refused["outcome"], [r["reason"] for r in refused["refusals"]]) == ("refused", ["over_age_limit"])
    assert refused["refusals"][0]["rule"] == "平成26年法律64号附則14条"
    assert "2026-06" in refused["refusals"][0]["message"]
    (far,) = await screenings(platform, too_far)
    # 2024-05 is before 2024-06 (2 years 1 month before July 2026), and before the person was insured.
    assert [r["reason"] for r in far["refusals"]] == ["beyond_retroactive_limit", "not_category_1"]
    (no_school,) = await screenings(platform, student)
    assert [r["reason"] for r in no_school["refusals"]] == ["no_school"]
    assert await reports(platform, applicant) == []


@pytest.mark.usefixtures("eligibility")
async def test_an_application_for_an_unknown_person_is_refused(platform: Platform) -> None:
    app = application(unique_atena())
    await platform.publish(EXEMPTION_APPLICATION_SUBMITTED, [app])
    (refused,) = await screenings(platform, app)
    assert [r["reason"] for r in refused["refusals"]] == ["unknown_person"]


def jps_result(
    app: ExemptionApplicationSubmitted, decision: JpsDecision | None = None, tier: ExemptionTier | None = None
) -> JpsProcessingResult:
    """The 処理結果一覧表 line for the reported application: processed, with JPS's 審査結果 (and 承認区分) if given."""
    return JpsProcessingResult(
        event_id=uuid.uuid4(),
        effective_date=date(2026, 8, 20),
        recorded_at=datetime.now(JST),
        atena_number=app.atena_number,
        list_id="ab" * 32,
        line_number=1,
        report_id=app.application_id,
        report_kind=JpsReportKind.EXEMPTION_APPLICATION,
        reconciliation=Reconciliation.MATCHED,
        jps_outcome=JpsOutcome.PROCESSED,
        processed_on=date(2026, 8, 20),
        jps_decision=decision,
        jps_approved_tier=tier,
    )


async def processed_by_jps(platform: Platform, app: ExemptionApplicationSubmitted) -> None:
    """The 処理結果一覧表 says JPS processed the reported application (a list without 審査結果)."""
    await platform.publish(JPS_PROCESSING_RESULT, [jps_result(app)])

    async def kept() -> bool:
        conn = await platform.connect_as("eligibility")
        try:
            outcome = await conn.fetchval(
                "SELECT jps_outcome FROM eligibility.exemption_application WHERE application_id = $1",
                app.application_id,
            )
        finally:
            await conn.close()
        return bool(outcome == "processed")

    await eventually(kept)


@pytest.mark.usefixtures("eligibility")
async def test_continuation_screens_the_approved_again_as_the_stream_path_would(platform: Platform) -> None:
    applicant, spouse = await household(platform, "世帯主", "妻")
    await incomes_known(
        platform,
        income(applicant, 0),
        income(spouse, 0),
        income(applicant, 0, year=2026),
        income(spouse, 1_000_000, year=2026),  # over 670,000 and 880,000; within 1,280,000
    )
    app = application(applicant, continuation=True)
    await platform.publish(EXEMPTION_APPLICATION_SUBMITTED, [app])
    (first,) = await screenings(platform, app)
    assert first["decision"] == "full_exemption"
    await processed_by_jps(platform, app)

    conn = await platform.connect_as("eligibility")
    try:
        report = await run_continuation(conn, 2027)
        again = await run_continuation(conn, 2027)
    finally:
        await conn.close()
    assert report.candidates >= 1
    assert report.decisions.get("half_exemption", 0) >= 1
    assert again.candidates == 0  # a rerun of the year finds every continuation done

    continued_id = derived_id(app.application_id, "continuation", 2027)
    continued = app.model_copy(update={"application_id": continued_id})
    (batch,) = await screenings(platform, continued)
    assert (batch["outcome"], batch["decision"], batch["income_year"]) == ("passed", "half_exemption", 2026)
    assert (batch["first_month"], batch["last_month"]) == ("2027-07", "2028-06")
    batch_reports = [r for r in await reports(platform, applicant) if r["report_id"] == str(continued_id)]
    assert [r["exemption_kind"] for r in batch_reports] == ["半額免除"]

    # The same person applying for that 年度 at the counter on 1 July is screened exactly alike.
    stream = application(applicant, received_on=date(2027, 7, 1), first_month="2027-07", last_month="2028-06")
    await platform.publish(EXEMPTION_APPLICATION_SUBMITTED, [stream])
    (by_stream,) = await screenings(platform, stream)
    for key in ("outcome", "decision", "income_year", "checks", "explanation"):
        assert by_stream[key] == batch[key], key


async def notified(platform: Platform, notice: ExemptionNotificationSubmitted) -> dict[str, Any]:
    return await announced(
        platform,
        "eligibility.exemption-notification-outcome.v1",
        notice.atena_number,
        "notification_id",
        notice.notification_id,
    )


def notice(atena: str, kind: ExemptionNotificationKind, **fields: Any) -> ExemptionNotificationSubmitted:
    return ExemptionNotificationSubmitted(
        event_id=uuid.uuid4(),
        effective_date=date(2026, 11, 5),
        recorded_at=datetime.now(JST),
        notification_id=uuid.uuid4(),
        kind=kind,
        atena_number=atena,
        received_on=date(2026, 11, 5),
        staff_id="urawa-0042",
        department="浦和区役所 保険年金課",
        **fields,
    )


async def additional_premium_applied(platform: Platform, atena: str) -> dict[str, Any]:
    filing = FilingSubmitted(
        event_id=uuid.uuid4(),
        effective_date=date(2026, 11, 5),
        recorded_at=datetime.now(JST),
        filing_id=uuid.uuid4(),
        kind=FilingKind.ADDITIONAL_PREMIUM_APPLICATION,
        atena_number=atena,
        received_on=date(2026, 11, 5),
        staff_id="urawa-0042",
        department="浦和区役所 保険年金課",
    )
    await platform.publish(FILING_SUBMITTED, [filing])
    return await announced(platform, "eligibility.filing-outcome.v1", atena, "filing_id", filing.filing_id)


@pytest.mark.usefixtures("eligibility")
async def test_a_statutory_exemption_is_recorded_reported_and_refuses_the_additional_premium(
    platform: Platform,
) -> None:
    (person,) = await household(platform, "世帯主")
    statutory = notice(
        person,
        ExemptionNotificationKind.STATUTORY_EXEMPTION,
        statutory_reason="livelihood_assistance",
        reason_arose_on=date(2026, 10, 15),
    )
    await platform.publish(EXEMPTION_NOTIFICATION_SUBMITTED, [statutory])
    outcome = await notified(platform, statutory)
    assert (outcome["accepted"], outcome["first_month"], outcome["last_month"]) == (True, "2026-09", None)
    assert outcome["article"] == "国民年金法89条1項"
    (report,) = [
        r
        for r in await outbox_events(platform, "eligibility", "eligibility", "eligibility.jps-report-due.v1", person)
        if r["report_id"] == str(statutory.notification_id)
    ]
    assert (report["report_kind"], report["exemption_kind"], report["exemption_from"]) == (
        "statutory_exemption",
        "法定免除",
        "2026-09-01",
    )
    refused = await additional_premium_applied(platform, person)
    assert (refused["outcome"], refused["rejection"], refused["message"]) == (
        "rejected",
        "additional_premium_refused",
        "法定免除",
    )


@pytest.mark.usefixtures("eligibility")
async def test_the_pre_and_postnatal_exemption_is_recorded_and_allows_the_additional_premium(
    platform: Platform,
) -> None:
    (person,) = await household(platform, "世帯主")
    birth = notice(person, ExemptionNotificationKind.PRE_POSTNATAL_EXEMPTION, expected_birth_on=date(2026, 12, 24))
    await platform.publish(EXEMPTION_NOTIFICATION_SUBMITTED, [birth])
    outcome = await notified(platform, birth)
    assert (outcome["accepted"], outcome["first_month"], outcome["last_month"]) == (True, "2026-11", "2027-02")
    accepted = await additional_premium_applied(platform, person)
    assert accepted["outcome"] == "accepted"  # 87条の2 does not exclude 88条の2


# --- 裁定請求受付 ------------------------------------------------------------------------------------

ALL_ATTACHMENTS = [
    "bank_account",
    "family_register",
    "death_certificate",
    "livelihood_proof",
    "income_proof",
    "medical_certificate",
    "first_visit_certificate",
    "medical_history_statement",
]


async def claimed(platform: Platform, claim: BenefitClaimSubmitted) -> dict[str, Any]:
    await platform.publish(BENEFIT_CLAIM_SUBMITTED, [claim])
    return await announced(
        platform, "eligibility.benefit-claim-received.v1", claim.atena_number, "claim_id", claim.claim_id
    )


def benefit_claim(atena: str, kind: str, **fields: Any) -> BenefitClaimSubmitted:
    return BenefitClaimSubmitted(
        event_id=uuid.uuid4(),
        effective_date=date(2026, 11, 5),
        recorded_at=datetime.now(JST),
        claim_id=uuid.uuid4(),
        kind=kind,
        atena_number=atena,
        received_on=date(2026, 11, 5),
        staff_id="urawa-0042",
        department="浦和区役所 保険年金課",
        attachments=fields.pop("attachments", ALL_ATTACHMENTS),
        **fields,
    )


@pytest.mark.usefixtures("eligibility")
async def test_a_death_opens_a_follow_up_and_the_survivors_claim_is_received_and_reported(platform: Platform) -> None:
    deceased, spouse = await household(platform, "世帯主", "妻")
    died = person_changed(deceased, K.DIED, date(2026, 10, 20))
    await platform.publish(PERSON_CHANGED, [died])
    opened = await eventually(lambda: _when(follow_ups(platform, deceased), 1))
    assert opened[0][0] == "claims_on_death"
    assert "遺族基礎年金" in opened[0][1]
    assert "未支給年金" in opened[0][1]

    received = await claimed(platform, benefit_claim(spouse, "survivors_basic", deceased_atena_number=deceased))
    assert (received["received"], received["pension_code"]) == (True, "1450")
    assert "死亡日 2026-10-20" in received["checks"]
    (report,) = [
        r
        for r in await outbox_events(platform, "eligibility", "eligibility", "eligibility.jps-report-due.v1", spouse)
        if r["report_id"] == received["claim_id"]
    ]
    assert (report["report_kind"], report["pension_code"]) == ("benefit_claim", "1450")
    assert deceased in report["note"]


@pytest.mark.usefixtures("eligibility")
async def test_a_claim_is_refused_with_its_rule(platform: Platform) -> None:
    (person,) = await household(platform, "世帯主")
    missing = await claimed(platform, benefit_claim(person, "disability_basic", attachments=["bank_account"]))
    assert (missing["received"], missing["refusals"][0]["reason"]) == (False, "attachments_missing")
    assert "診断書" in missing["refusals"][0]["message"]
    young = await claimed(platform, benefit_claim(person, "old_age_basic"))
    assert young["refusals"][0]["reason"] == "too_young"
    disability = await claimed(platform, benefit_claim(person, "disability_basic", first_visit_on=date(2026, 1, 10)))
    assert (disability["received"], disability["pension_code"]) == (True, "5350")


# --- JPS's decision (承認・却下) --------------------------------------------------------------------


async def decided(platform: Platform, app: ExemptionApplicationSubmitted) -> dict[str, Any]:
    return await announced(platform, EXEMPTION_DECIDED.name, app.atena_number, "application_id", app.application_id)


@pytest.mark.usefixtures("eligibility")
async def test_jps_approving_a_more_lenient_tier_puts_that_tier_in_force(platform: Platform) -> None:
    """Worked example: the city screens 全額免除 (applicant and 妻 with 0 yen, 90条1項); JPS approves 半額免除. The
    months 2026-07〜2027-06 are then 半額免除 months: 付加保険料 applied for in November is refused as a partial
    exemption (87条の2), not as a full one."""
    applicant, spouse = await household(platform, "世帯主", "妻")
    await incomes_known(platform, income(applicant, 0), income(spouse, 0))
    app = application(applicant)
    await platform.publish(EXEMPTION_APPLICATION_SUBMITTED, [app])
    (screened,) = await screenings(platform, app)
    assert screened["decision"] == "full_exemption"
    await platform.publish(JPS_PROCESSING_RESULT, [jps_result(app, JpsDecision.APPROVED, ExemptionTier.HALF_EXEMPTION)])
    event = await decided(platform, app)
    assert (event["jps_decision"], event["tier"], event["screened_tier"]) == (
        "approved",
        "half_exemption",
        "full_exemption",
    )
    assert (event["first_month"], event["last_month"], event["decided_on"]) == ("2026-07", "2027-06", "2026-08-20")
    assert "2026-07〜2027-06 は半額免除（承認区分のとおり" in event["explanation"]
    refused = await additional_premium_applied(platform, applicant)
    assert (refused["outcome"], refused["rejection"], refused["message"]) == (
        "rejected",
        "additional_premium_refused",
        "一部免除（4分の3・半額・4分の1）",
    )


@pytest.mark.usefixtures("eligibility")
async def test_jps_rejecting_leaves_the_months_to_pay_whatever_the_city_screened(platform: Platform) -> None:
    """Worked example: the same 全額免除 screening, JPS rejects (却下). No exemption is in force for 2026-07〜2027-06
    (the months are to be paid, 88条1項): 付加保険料 applied for in November is accepted, where the city's
    screening alone would have refused it as 全額免除."""
    applicant, spouse = await household(platform, "世帯主", "妻")
    await incomes_known(platform, income(applicant, 0), income(spouse, 0))
    app = application(applicant)
    await platform.publish(EXEMPTION_APPLICATION_SUBMITTED, [app])
    (screened,) = await screenings(platform, app)
    assert screened["decision"] == "full_exemption"
    await platform.publish(JPS_PROCESSING_RESULT, [jps_result(app, JpsDecision.REJECTED)])
    event = await decided(platform, app)
    assert (event["jps_decision"], event["tier"], event["screened_tier"]) == ("rejected", None, "full_exemption")
    assert "保険料を納付する月です（国民年金法88条1項）" in event["explanation"]
    accepted = await additional_premium_applied(platform, applicant)
    assert accepted["outcome"] == "accepted"
    conn = await platform.connect_as("eligibility")
    try:
        row = await conn.fetchrow(
            "SELECT jps_outcome, jps_decision, jps_decided_tier FROM eligibility.exemption_application "
            "WHERE application_id = $1",
            app.application_id,
        )
    finally:
        await conn.close()
    assert tuple(row) == ("processed", "rejected", None)
