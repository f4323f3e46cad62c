"""The weekly 進達 and inquiry answers list reports by 受付日 and then in the order eligibility published them,
not by a random id: a record correction (訂正) of a report always follows the report it corrects.

Revision ID: 0102
"""

from kokunen_common.database_setup import execute_all

revision = "0102"
down_revision = "0101"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_all(
        [
            # Rows kept before this revision are numbered in storage order.
            "ALTER TABLE dispatch.jps_report ADD COLUMN arrival bigint GENERATED ALWAYS AS IDENTITY",
            "COMMENT ON COLUMN dispatch.jps_report.arrival IS "
            "'order of arrival: per 宛名番号 the order eligibility published the reports (one partition per person)'",
        ]
    )


def downgrade() -> None:
    raise NotImplementedError("forward-only: write a new migration")
