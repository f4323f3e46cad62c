"""Counter: the access log (アクセスログ) as parallel hash chains (lanes), so that staff requests append side by
side instead of one at a time; rows written before stay the start of lane 0 and verify as they did.

Revision ID: 0003
Revises: 0002
"""

from kokunen_common.database_setup import execute_all

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_all(
        [
            # Adding a column with a constant default rewrites no row (the append-only trigger is not involved).
            "ALTER TABLE counter.access_log ADD COLUMN lane smallint NOT NULL DEFAULT 0",
            "ALTER TABLE counter.access_log ALTER COLUMN lane DROP DEFAULT",  # every appender names its lane
            "COMMENT ON COLUMN counter.access_log.lane IS 'the chain (lane) the row is linked in: prev_hash is the "
            "previous row of the same lane'",
            "CREATE SEQUENCE counter.access_log_seq AS bigint",
            "SELECT setval('counter.access_log_seq', coalesce(max(seq), 0) + 1, false) FROM counter.access_log",
            "CREATE INDEX access_log_lane_head ON counter.access_log (lane, seq)",
            "COMMENT ON TABLE counter.access_log IS 'アクセスログ: append-only; each row hashes its content and the "
            "previous row''s hash in its lane (counter verify-access-log checks every lane)'",
        ]
    )


def downgrade() -> None:
    raise NotImplementedError("forward-only: write a new migration")
