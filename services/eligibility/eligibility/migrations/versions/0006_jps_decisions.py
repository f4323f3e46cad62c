"""JPS's decision (承認・却下) on exemption applications, from the 処理結果一覧表, and the tier it puts in force.

Revision ID: 0006
"""

from kokunen_common.database_setup import execute_all

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_all(
        [
            "ALTER TABLE eligibility.exemption_application ADD COLUMN jps_decision text",  # approved | rejected
            # The tier the decision put in force (NULL: none); see exemptions/jps_decision.py.
            "ALTER TABLE eligibility.exemption_application ADD COLUMN jps_decided_tier text",
        ]
    )


def downgrade() -> None:
    execute_all(
        [
            "ALTER TABLE eligibility.exemption_application DROP COLUMN jps_decided_tier",
            "ALTER TABLE eligibility.exemption_application DROP COLUMN jps_decision",
        ]
    )
