"""Counter: refused sign-ins (サインインの失敗), for the auditors' monthly review — append-only like the access log.

Revision ID: 0004
Revises: 0003
"""

from kokunen_common.database_setup import execute_all

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_all(
        [
            """CREATE TABLE counter.sign_in_failure (
                id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                failed_at  timestamptz NOT NULL DEFAULT now(),  -- 日時
                terminal   text        NOT NULL,  -- 端末 (client address)
                staff_id   text,                  -- 職員 (only when the IdP's answer was verified)
                problem    text        NOT NULL)""",  # what was wrong, in Japanese (never the token)
            "CREATE INDEX sign_in_failure_by_time ON counter.sign_in_failure (failed_at)",
            "COMMENT ON TABLE counter.sign_in_failure IS 'サインインの失敗: sign-ins the counter refused; append-only'",
            """CREATE FUNCTION counter.sign_in_failure_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    RAISE EXCEPTION 'counter.sign_in_failure is append-only (% refused)', TG_OP;
                END $$""",
            """CREATE TRIGGER sign_in_failure_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
                ON counter.sign_in_failure FOR EACH STATEMENT
                EXECUTE FUNCTION counter.sign_in_failure_is_append_only()""",
            "REVOKE UPDATE, DELETE, TRUNCATE ON counter.sign_in_failure FROM counter_app",
        ]
    )


def downgrade() -> None:
    raise NotImplementedError("forward-only: write a new migration")
