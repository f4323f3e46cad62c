"""Departmental transfers 移転1–3: the insured as dispatch knows them, 老齢福祉年金 recipients, and what
each monthly record carried (to send nothing twice and to correct what was sent).

Revision ID: 0002
"""

from kokunen_common.database_setup import execute_all

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_all(
        [
            """CREATE TABLE dispatch.insured_person (
                atena_number         text        PRIMARY KEY,     -- 宛名番号
                basic_pension_number text,                         -- 基礎年金番号
                insured_category     text        NOT NULL,         -- 被保険者種別
                acquired_on          date,                         -- 資格取得日
                lost_on              date,                         -- 資格喪失日
                withdrawn            boolean     NOT NULL DEFAULT false,  -- the last period was cancelled (取消)
                last_event_id        uuid        NOT NULL,
                updated_at           timestamptz NOT NULL DEFAULT now())""",
            "COMMENT ON TABLE dispatch.insured_person IS "
            "'Each person''s latest qualification as the transfers 移転1/移転2 need it (no My Number, no name)'",
            """CREATE TABLE dispatch.welfare_pension_import (
                file_sha256 text        PRIMARY KEY,
                file_name   text        NOT NULL,
                row_count   integer     NOT NULL,
                imported_at timestamptz NOT NULL DEFAULT now())""",
            """CREATE TABLE dispatch.welfare_pension_recipient (
                atena_number       text        PRIMARY KEY,   -- 宛名番号
                certificate_symbol text        NOT NULL,      -- 証書記号
                certificate_number text        NOT NULL,      -- 証書番号
                payment_category   text        NOT NULL,      -- 支給区分
                active             boolean     NOT NULL DEFAULT true,  -- false: 受給権消滅 (leaves 移転3)
                file_sha256        text        NOT NULL REFERENCES dispatch.welfare_pension_import,
                updated_at         timestamptz NOT NULL DEFAULT now())""",
            "COMMENT ON TABLE dispatch.welfare_pension_recipient IS "
            "'老齢福祉年金受給者 (source of 移転3), from the imported recipient lists'",
            # What a monthly record was about and carried: a rerun compares against it.
            "ALTER TABLE dispatch.transfer_item ADD COLUMN period text",
            "ALTER TABLE dispatch.transfer_item ADD COLUMN subject_key text",
            "ALTER TABLE dispatch.transfer_item ADD COLUMN revision integer NOT NULL DEFAULT 1",
            "ALTER TABLE dispatch.transfer_item ADD COLUMN payload_digest bytea",
            "ALTER TABLE dispatch.transfer_item ADD COLUMN cancelled boolean NOT NULL DEFAULT false",
            "CREATE INDEX transfer_item_by_subject "
            "ON dispatch.transfer_item (policy_id, period, subject_key, revision)",
        ]
    )


def downgrade() -> None:
    raise NotImplementedError("forward-only: write a new migration")
