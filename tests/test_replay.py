"""Replay: each service rebuilds its slice from the retained topics, and the rebuilt slice equals the
original — ids included, since every id is derived from the event that caused it.

Runs after the other integration tests of the session (file order), so the slices hold their data:
moves, deaths, cancellations, late facts, filings and calendar facts.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from kokunen_common.replay import ReplayRefused, replay
from kokunen_testing.platform import Platform, consumed_everything, eventually
from transfer_dispatch.domain.policy import load_policies
from transfer_dispatch.handlers import processing_month, run_monthly_nhi_transfer

pytestmark = pytest.mark.integration

# What each slice holds, without transaction-time columns (recorded_at, …) and without ciphertexts
# (a new nonce each time): the keyed hash stands for the My Number.
SNAPSHOTS = {
    "residency_sync": [
        """SELECT atena_number, change_id, reason, effective_date, processed_on, source_event_id, published_event_id,
                  cancelled_by, arrival, household_number, name, birth_date, current_address::text, removal::text,
                  my_number_key_id, encode(my_number_hash, 'hex'), is_resident, lives_in_japan
           FROM residency.person_version ORDER BY change_id""",
        "SELECT atena_number, latest_effective_date, is_resident FROM residency.person ORDER BY atena_number",
        "SELECT cancels_change_id, change_id FROM residency.parked_cancellation ORDER BY 1",
    ],
    "eligibility": [
        """SELECT period_id, atena_number, category, acquired_on, acquisition_reason, lost_on, loss_reason,
                  cause_event_id, published_event_id, change_kind, superseded_at IS NULL AS current
           FROM eligibility.qualification_version ORDER BY published_event_id""",
        """SELECT atena_number, birth_date, lives_in_japan, is_resident, other_category, basic_pension_number, phone,
                  address_unknown, pension_fund_member FROM eligibility.person ORDER BY atena_number""",
        "SELECT filing_id, kind, status, rejection, confirmed_by FROM eligibility.filing ORDER BY filing_id",
        """SELECT atena_number, from_month, until_month, superseded_at IS NULL
           FROM eligibility.additional_premium_version ORDER BY atena_number, from_month, until_month NULLS FIRST""",
        "SELECT cause_event_id, due_on, applied_at IS NOT NULL, cancelled_at IS NOT NULL "
        "FROM eligibility.scheduled_move ORDER BY 1",
        """SELECT event_id, atena_number, reconciliation, jps_outcome, follow_up, pension_number_taken, known_person
           FROM eligibility.jps_result ORDER BY event_id""",
        """SELECT event_id, atena_number, kind, effective_date, source_recorded_at, cancels_event_id, residence_status,
                  designated_activity FROM eligibility.dated_fact ORDER BY event_id""",
        """SELECT event_id, atena_number, household_number, relationship, householder_atena_number, is_resident,
                  effective_date FROM eligibility.household_version ORDER BY event_id""",
        """SELECT event_id, atena_number, income_year, correction_seq, figures::text
           FROM eligibility.income ORDER BY event_id""",
        "SELECT application_id, atena_number, kind, status FROM eligibility.exemption_application ORDER BY 1",
        """SELECT event_id, application_id, cause_event_id, outcome, decision, persons, superseded_at IS NULL
           FROM eligibility.exemption_screening ORDER BY event_id""",
        "SELECT follow_up_id, atena_number, reason, application_id, detail FROM eligibility.follow_up ORDER BY 1",
    ],
    # Each person's changes and reports in their order of arrival (the numbers themselves depend on how
    # partitions interleaved), of those that came over a topic (some tests store changes directly).
    "transfer_dispatch": [
        """SELECT q.atena_number, array_agg(q.source_event_id ORDER BY q.arrival)
           FROM dispatch.qualification_change q JOIN dispatch.inbox i ON i.message_key = q.source_event_id::text
           GROUP BY q.atena_number ORDER BY q.atena_number""",
        """SELECT r.atena_number, array_agg(r.report_id ORDER BY r.arrival)
           FROM dispatch.jps_report r JOIN dispatch.inbox i ON i.message_key = r.source_event_id::text
           GROUP BY r.atena_number ORDER BY r.atena_number""",
        """SELECT p.atena_number, basic_pension_number, insured_category, acquired_on, lost_on, withdrawn, last_event_id
           FROM dispatch.insured_person p JOIN dispatch.inbox i ON i.message_key = p.last_event_id::text
           ORDER BY p.atena_number""",
    ],
}


async def snapshot(platform: Platform, service: str) -> list[list[tuple[object, ...]]]:
    conn = await platform.connect_as(service)
    try:
        return [[tuple(r) for r in await conn.fetch(query)] for query in SNAPSHOTS[service]]
    finally:
        await conn.close()


async def drained(platform: Platform, service: str, schema: str) -> bool:
    """Replay refuses while events wait in the outbox: let the relay finish first."""
    conn = await platform.connect_as(service)
    try:
        return not await conn.fetchval(f"SELECT count(*) FROM {schema}.outbox WHERE published_at IS NULL")
    finally:
        await conn.close()


@pytest.mark.parametrize(("service", "schema"), [("residency_sync", "residency"), ("eligibility", "eligibility")])
async def test_a_replayed_slice_equals_the_original(platform: Platform, service: str, schema: str) -> None:
    # Let the service read what is left on its topics and its relay publish what is left in its outbox.
    async with platform.build(service) as runtime:
        await eventually(lambda: consumed_everything(platform, runtime), timeout_s=90)
        await eventually(lambda: drained(platform, service, schema), timeout_s=60)
    before = await snapshot(platform, service)
    assert before[0], f"{service} has nothing to replay: run with the other integration tests"

    settings = platform.settings(service)
    assert settings.migration_database_url is not None
    report = await replay(platform.build(service), settings.migration_database_url.get_secret_value())

    assert report.records > 0
    after = await snapshot(platform, service)
    for query, old, new in zip(SNAPSHOTS[service], before, after, strict=True):
        assert new == old, f"rebuilt slice differs for: {query.split('FROM')[1].split()[0]}"


async def test_a_replayed_dispatch_slice_keeps_each_persons_order_and_a_rerun_of_the_month_sends_nothing(
    platform: Platform,
) -> None:
    month = processing_month(datetime.now(UTC))
    async with platform.build("transfer_dispatch") as runtime:
        await eventually(lambda: consumed_everything(platform, runtime), timeout_s=90)
        conn = await platform.connect_as("transfer_dispatch")
        try:
            await run_monthly_nhi_transfer(conn, load_policies(), month)  # what is left of the month goes now
        finally:
            await conn.close()
        await eventually(lambda: drained(platform, "transfer_dispatch", "dispatch"), timeout_s=60)
    before = await snapshot(platform, "transfer_dispatch")
    assert before[0], "transfer_dispatch has nothing to replay: run with the other integration tests"

    settings = platform.settings("transfer_dispatch")
    assert settings.migration_database_url is not None
    await replay(platform.build("transfer_dispatch"), settings.migration_database_url.get_secret_value())

    assert await snapshot(platform, "transfer_dispatch") == before
    conn = await platform.connect_as("transfer_dispatch")
    try:
        again = await run_monthly_nhi_transfer(conn, load_policies(), month)
    finally:
        await conn.close()
    assert (again.batch_id, again.record_count) == (None, 0)  # what each batch took is kept on replay


async def test_replay_refuses_while_events_wait_to_be_published(platform: Platform) -> None:
    admin = await platform.admin()
    try:
        await admin.execute(
            """INSERT INTO dispatch.outbox (event_id, topic, message_key, payload, headers)
               VALUES (gen_random_uuid(), 'transfer.nhi-qualification-changes.v1', 'x', '\\x7b7d', '[]')"""
        )
        settings = platform.settings("transfer_dispatch")
        assert settings.migration_database_url is not None
        with pytest.raises(ReplayRefused, match="not published yet"):
            await replay(platform.build("transfer_dispatch"), settings.migration_database_url.get_secret_value())
    finally:
        await admin.execute("DELETE FROM dispatch.outbox WHERE message_key = 'x' AND published_at IS NULL")
        await admin.close()
