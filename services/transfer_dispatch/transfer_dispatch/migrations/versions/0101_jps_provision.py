"""JPS provision (提供1): reports and person details kept for the 進達, the batches and items sent, and the
processing-result lists imported (処理結果一覧表). Its own Alembic branch ``jps``.

Revision ID: 0101
"""

from kokunen_common.database_setup import execute_all

revision = "0101"
down_revision = None
branch_labels = ("jps",)
depends_on = ("0001",)  # the dispatch schema's outbox and transfer log


def upgrade() -> None:
    execute_all(
        [
            """CREATE TABLE dispatch.jps_report (
                report_id            uuid        PRIMARY KEY,       -- 受付番号 (報告ID)
                source_event_id      uuid        NOT NULL UNIQUE,   -- the eligibility.jps-report-due event
                report_kind          text        NOT NULL,          -- 届書等の種類
                atena_number         text        NOT NULL,          -- 宛名番号
                my_number_sealed     text,                          -- 個人番号 (AES-GCM, as eligibility sealed it)
                basic_pension_number text,                          -- 基礎年金番号
                received_on          date        NOT NULL,          -- 受付日
                insured_category     text,
                acquired_on          date,
                acquisition_reason   text,
                lost_on              date,
                loss_reason          text,
                exemption_kind       text,
                exemption_from       date,
                exemption_to         date,
                pension_code         text,
                replaces_report_id   uuid,
                received_at          timestamptz NOT NULL DEFAULT now())""",
            "CREATE INDEX jps_report_by_received_on ON dispatch.jps_report (received_on)",
            "CREATE INDEX jps_report_by_atena ON dispatch.jps_report (atena_number)",
            "CREATE INDEX jps_report_by_pension_number ON dispatch.jps_report (basic_pension_number)",
            "COMMENT ON TABLE dispatch.jps_report IS "
            "'進達対象 as dispatch keeps it for the JPS provision; My Number stays sealed until a medium is written'",
            """CREATE TABLE dispatch.jps_person (
                atena_number    text        PRIMARY KEY,   -- 宛名番号
                name            text        NOT NULL,      -- 氏名
                name_kana       text,                      -- 氏名カナ
                sex             text        NOT NULL,      -- 性別
                birth_date      date        NOT NULL,      -- 生年月日
                postal_code     text,                      -- 郵便番号
                address         text        NOT NULL,      -- 住所
                recorded_at     timestamptz NOT NULL,      -- when residency learned this state
                source_event_id uuid        NOT NULL)""",
            "COMMENT ON TABLE dispatch.jps_person IS "
            "'基本4情報 of persons, latest known: only for the JPS medium (提供1), never for the 移転'",
            """CREATE TABLE dispatch.jps_batch (
                batch_id      text        PRIMARY KEY,   -- 送付番号
                batch_kind    text        NOT NULL CHECK (batch_kind IN ('weekly', 'inquiry')),
                period        text        NOT NULL,      -- 週 (YYYY-Www) or 照会番号
                record_count  integer     NOT NULL,
                manifest      jsonb       NOT NULL,      -- counts and digests, no personal data
                created_at    timestamptz NOT NULL DEFAULT now())""",
            """CREATE TABLE dispatch.jps_item (
                batch_id             text    NOT NULL REFERENCES dispatch.jps_batch,
                seq                  integer NOT NULL,  -- 連番
                weekly               boolean NOT NULL,
                report_id            uuid,              -- null for 該当なし in an inquiry answer
                report_kind          text    NOT NULL,
                atena_number         text,
                basic_pension_number text,
                insured_category     text,
                acquired_on          date,
                lost_on              date,
                my_number_hash       bytea,             -- keyed hash: reconcile JPS's My Number without keeping it
                PRIMARY KEY (batch_id, seq))""",
            "CREATE UNIQUE INDEX jps_item_sent_weekly_once ON dispatch.jps_item (report_id) WHERE weekly",
            "CREATE INDEX jps_item_by_report ON dispatch.jps_item (report_id)",
            """CREATE TABLE dispatch.jps_result_import (
                list_digest text        PRIMARY KEY,  -- SHA-256 of the list file: the same list imports once
                file_name   text        NOT NULL,
                line_count  integer     NOT NULL,
                counts      jsonb       NOT NULL,
                imported_at timestamptz NOT NULL DEFAULT now())""",
            """CREATE TABLE dispatch.jps_result_line (
                list_digest       text    NOT NULL REFERENCES dispatch.jps_result_import,
                n                 integer NOT NULL,
                line_number       integer,          -- null for a sent record the list lacks (missing)
                batch_id          text,
                report_id         uuid,
                atena_number      text,
                reconciliation    text    NOT NULL, -- matched / mismatched / missing / unexpected
                mismatched_fields text[]  NOT NULL,
                jps_result_code   text,
                event_id          uuid,             -- the transfer.jps-processing-result event, if published
                PRIMARY KEY (list_digest, n))""",
        ]
    )


def downgrade() -> None:
    raise NotImplementedError("forward-only: write a new migration")
