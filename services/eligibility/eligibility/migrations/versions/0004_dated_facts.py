"""The dated facts each person's qualification history is derived from: every resident change received
(cancellations included, which void the change they name) and every calendar fact applied; and the periods
recorded before them, which are kept as given.

Revision ID: 0004
"""

from kokunen_common.database_setup import execute_all

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_all(
        [
            """CREATE TABLE eligibility.dated_fact (
                event_id            uuid        PRIMARY KEY,     -- person-changed or calendar-fact event
                atena_number        text        NOT NULL,
                kind                text        NOT NULL,        -- 異動の種類, or the calendar fact
                effective_date      date        NOT NULL,        -- 異動日 (the day the fact is about)
                source_recorded_at  timestamptz NOT NULL,        -- when the resident-record system recorded it
                cancels_event_id    uuid,                        -- 異動の取消し: the fact it voids
                residence_status    text,                        -- 在留資格 after the change
                designated_activity text,                        -- 特定活動の内容 after the change
                recorded_at         timestamptz NOT NULL DEFAULT clock_timestamp())""",
            "CREATE INDEX dated_fact_by_person ON eligibility.dated_fact (atena_number, effective_date)",
            "COMMENT ON TABLE eligibility.dated_fact IS 'The facts a person''s qualification history is derived "
            "from (ADR 0006): resident changes with their 異動日, cancellations, calendar facts'",
            # Periods recorded before the facts were kept cannot be derived again: they are given, like those
            # filings set (a replay rebuilds the facts from the topics and leaves this empty).
            "CREATE TABLE eligibility.period_given (period_id uuid PRIMARY KEY)",
            """INSERT INTO eligibility.period_given (period_id)
               SELECT DISTINCT period_id FROM eligibility.qualification_version WHERE superseded_at IS NULL""",
            "COMMENT ON TABLE eligibility.period_given IS 'Periods recorded before dated facts were kept "
            "(migration 0004): kept as they are by the derivation'",
        ]
    )


def downgrade() -> None:
    raise NotImplementedError("forward-only: write a new migration")
