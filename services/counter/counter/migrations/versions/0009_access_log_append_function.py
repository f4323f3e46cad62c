"""Counter: the access log's append in one round trip — ``counter.access_log_append`` takes a free lane, draws the
seq, links the row to the lane's last hash and inserts it (kokunen_common.hash_chain.lane_append_ddl). Rows link
and verify exactly as before (same lanes, same locks, same hash); only the round trips go.

Revision ID: 0009
Revises: 0008
"""

from kokunen_common.database_setup import execute_all
from kokunen_common.hash_chain import lane_append_ddl

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_all(
        [
            # A copy of the definition as of this revision would drift from the code: the function is rebuilt from
            # it, and a later change to lane_append_ddl needs a migration that replaces it.
            lane_append_ddl("counter.access_log", "counter.access_log_seq"),
            "COMMENT ON FUNCTION counter.access_log_append(jsonb, int, int, bytea, bytea) IS 'appends one access-log "
            "row to a free hash-chain lane (seq drawn under the lane lock); the only way the app writes the log'",
        ]
    )


def downgrade() -> None:
    raise NotImplementedError("forward-only: write a new migration")
