"""Counter: サインインの試行制限 — which row records that a terminal or staff member reached its limit of failed
sign-ins (``limited_by``), and indexes to count a terminal's and a staff member's recent failures.

Revision ID: 0008
Revises: 0007
"""

from kokunen_common.database_setup import execute_all

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_all(
        [
            # NULL on a failure; 'terminal' or 'staff' on the one row recording that a limit was reached.
            """ALTER TABLE counter.sign_in_failure ADD COLUMN limited_by text
                CHECK (limited_by IN ('terminal', 'staff'))""",
            "CREATE INDEX sign_in_failure_by_terminal ON counter.sign_in_failure (terminal, failed_at)",
            """CREATE INDEX sign_in_failure_by_staff ON counter.sign_in_failure (staff_id, failed_at)
                WHERE staff_id IS NOT NULL""",
        ]
    )


def downgrade() -> None:
    raise NotImplementedError("forward-only: write a new migration")
