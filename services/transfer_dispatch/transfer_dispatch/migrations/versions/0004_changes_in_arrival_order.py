"""移転4 reads a person's qualification changes in the order eligibility published them, not by a clock.

``arrival`` numbers each change as it is kept. Changes of one person come from one partition (keyed by
宛名番号), consumed in order, one batch after another: so per person the number is the publication order.
``received_at`` (a transaction's ``now()``) ties for changes kept together and is kept for information only.
``batched_change`` says which batch took each change into account — sent, folded into a later record of the
same batch, or cancelled out within it — so that a rerun takes none of them again.

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
            # Rows kept before this revision are numbered in storage order: they were all sent or are a
            # month's leftovers, read as they were before.
            "ALTER TABLE dispatch.qualification_change ADD COLUMN arrival bigint GENERATED ALWAYS AS IDENTITY",
            "COMMENT ON COLUMN dispatch.qualification_change.arrival IS "
            "'order of arrival: per 宛名番号 the order eligibility published the changes (one partition per person)'",
            "ALTER TABLE dispatch.qualification_change ADD COLUMN period_id uuid",
            "COMMENT ON COLUMN dispatch.qualification_change.period_id IS "
            "'資格期間ID: a cancelled period withdraws every record of it (NULL: kept before revision 0004)'",
            "CREATE INDEX qualification_change_by_month_person "
            "ON dispatch.qualification_change (processing_month, atena_number, arrival)",
            """CREATE TABLE dispatch.batched_change (
                policy_id        text NOT NULL,
                change_record_id uuid NOT NULL,   -- dispatch.qualification_change.record_id
                batch_id         text,            -- NULL: cancelled out before any batch had to send it
                PRIMARY KEY (policy_id, change_record_id))""",
            "COMMENT ON TABLE dispatch.batched_change IS "
            "'The qualification changes each monthly batch took into account, whether or not a record carries it'",
            "INSERT INTO dispatch.batched_change (policy_id, change_record_id, batch_id) "
            "SELECT policy_id, record_id, batch_id FROM dispatch.transfer_item WHERE policy_id = 'nhi'",
            "ALTER TABLE dispatch.transfer_item ADD COLUMN change_record_id uuid",
            "COMMENT ON COLUMN dispatch.transfer_item.change_record_id IS "
            "'移転4: the qualification change whose fields the record carries (NULL before revision 0004: record_id)'",
            # The records a person holds in force: those of the person that no later record names.
            "CREATE INDEX transfer_item_by_policy_subject ON dispatch.transfer_item (policy_id, subject_key)",
            "CREATE INDEX transfer_item_by_named ON dispatch.transfer_item (policy_id, corrects_record_id) "
            "WHERE corrects_record_id IS NOT NULL",
        ]
    )


def downgrade() -> None:
    raise NotImplementedError("forward-only: write a new migration")
