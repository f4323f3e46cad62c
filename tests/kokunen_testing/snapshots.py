"""What each service's slice holds, comparable between two runs: a replayed slice against the original
(tests/test_replay.py), a database restored to a point in time and caught up against one never restored
(kokunen_testing.restore_drill)."""

from __future__ import annotations

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
    "tax_sync": [
        """SELECT atena_number, income_year, correction_seq, tax_year, assessed_on, total_income, person_verified,
                  event_id, supersedes_event_id, source_event_id, superseded_at IS NULL
           FROM tax.income_assessment ORDER BY atena_number, income_year, correction_seq""",
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
