"""A monthly batch is written in chunks (so the relay publishes while the rest is built): a batch is complete
only once its log entry is written.

Revision ID: 0003
"""

from kokunen_common.database_setup import execute_all

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_all(
        [
            # Batches written in one transaction are complete when written; a chunked monthly run sets it last.
            "ALTER TABLE dispatch.transfer_batch ADD COLUMN completed_at timestamptz DEFAULT now()",
            "COMMENT ON COLUMN dispatch.transfer_batch.completed_at IS "
            "'NULL while a monthly run is still writing the batch (a rerun of the month resumes it)'",
        ]
    )


def downgrade() -> None:
    raise NotImplementedError("forward-only: write a new migration")
