"""Dispatch slice: qualification changes kept for transfers, batches, items, and the transfer log.

Revision ID: 0001
"""

from kokunen_common.database_setup import execute_all
from kokunen_common.outbox import outbox_ddl

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_all(
        [
            *outbox_ddl("dispatch"),
            """CREATE TABLE dispatch.qualification_change (
                record_id            uuid        PRIMARY KEY,
                source_event_id      uuid        NOT NULL UNIQUE,  -- the eligibility event
                replaces_event_id    uuid,                          -- the eligibility event it corrects
                atena_number         text        NOT NULL,          -- 宛名番号
                basic_pension_number text,                          -- 基礎年金番号
                insured_category     text        NOT NULL,          -- 被保険者種別
                acquired_on          date,                          -- 資格取得日
                acquisition_reason   text,                          -- 資格取得理由
                lost_on              date,                          -- 資格喪失日
                loss_reason          text,                          -- 資格喪失理由
                change_kind          text        NOT NULL,
                processing_month     text        NOT NULL,          -- 処理月 (YYYY-MM, JST)
                received_at          timestamptz NOT NULL DEFAULT now())""",
            "CREATE INDEX qualification_change_by_month ON dispatch.qualification_change (processing_month)",
            "COMMENT ON TABLE dispatch.qualification_change IS "
            "'資格異動 as dispatch keeps it for the transfers (minimised: no My Number, no name)'",
            """CREATE TABLE dispatch.transfer_batch (
                batch_id     text        PRIMARY KEY,
                policy_id    text        NOT NULL,
                period       text        NOT NULL,   -- 処理月 or week the batch covers
                record_count integer     NOT NULL,
                created_at   timestamptz NOT NULL DEFAULT now())""",
            """CREATE TABLE dispatch.transfer_item (
                policy_id          text NOT NULL,
                record_id          uuid NOT NULL,
                batch_id           text NOT NULL REFERENCES dispatch.transfer_batch,
                event_id           uuid NOT NULL UNIQUE,   -- the transfer event sent
                corrects_record_id uuid,
                PRIMARY KEY (policy_id, record_id))""",
            """CREATE TABLE dispatch.transfer_log (
                seq          bigint      PRIMARY KEY,
                batch_id     text        NOT NULL,
                policy_id    text        NOT NULL,
                recipient    text        NOT NULL,   -- 提供・移転先
                purpose      text        NOT NULL,   -- 目的
                legal_basis  text        NOT NULL,   -- 法令上の根拠
                fields       text[]      NOT NULL,   -- 提供・移転した項目
                record_count integer     NOT NULL,   -- 件数
                logged_at    timestamptz NOT NULL,   -- 日時
                prev_hash    bytea       NOT NULL,
                entry_hash   bytea       NOT NULL UNIQUE)""",
            "COMMENT ON TABLE dispatch.transfer_log IS "
            "'提供・移転の記録: append-only, each row hashes its content and the previous row''s hash'",
            """CREATE FUNCTION dispatch.transfer_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    RAISE EXCEPTION 'dispatch.transfer_log is append-only (% refused)', TG_OP;
                END $$""",
            """CREATE TRIGGER transfer_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON dispatch.transfer_log
                FOR EACH STATEMENT EXECUTE FUNCTION dispatch.transfer_log_is_append_only()""",
            "REVOKE UPDATE, DELETE, TRUNCATE ON dispatch.transfer_log FROM dispatch_app",
        ]
    )


def downgrade() -> None:
    raise NotImplementedError("forward-only: write a new migration")
