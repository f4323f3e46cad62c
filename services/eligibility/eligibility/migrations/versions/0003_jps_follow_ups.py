"""JPS processing results kept per reported record, with the follow-ups they ask of staff.

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
            """CREATE TABLE eligibility.jps_result (
                event_id           uuid        PRIMARY KEY,     -- the transfer.jps-processing-result event
                atena_number       text        NOT NULL,
                list_id            text        NOT NULL,        -- 処理結果一覧表ID (SHA-256 of the file)
                line_number        integer,
                batch_id           text,                        -- 送付番号
                report_id          uuid,                        -- 受付番号
                report_kind        text,
                jps_pension_number text,                        -- 基礎年金番号 as JPS processed it
                reconciliation     text        NOT NULL,        -- 突合結果
                mismatched_fields  text[]      NOT NULL DEFAULT '{}',
                jps_outcome        text        NOT NULL,        -- 処理結果
                jps_result_code    text,
                jps_message        text,                        -- エラー内容・備考 (from JPS)
                processed_on       date,
                follow_up          text,                        -- 要対応の理由 (NULL: none)
                pension_number_taken boolean   NOT NULL DEFAULT false,
                known_person       boolean     NOT NULL,
                recorded_at        timestamptz NOT NULL DEFAULT now(),
                resolved_by        text,
                resolved_at        timestamptz
            )""",
            "CREATE INDEX jps_result_by_person ON eligibility.jps_result (atena_number)",
            "CREATE INDEX jps_result_open_follow_ups ON eligibility.jps_result (recorded_at) "
            "WHERE follow_up IS NOT NULL AND resolved_at IS NULL",
        ]
    )


def downgrade() -> None:
    execute_all(["DROP TABLE eligibility.jps_result"])
