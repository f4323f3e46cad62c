"""Counter: 提供・移転の記録 per person, from dispatch.transfer-recorded.v1 (what was sent about a person, to whom,
when; field names only).

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
            """CREATE TABLE counter.transfer_record (
                event_id           uuid        PRIMARY KEY,  -- dispatch.transfer-recorded.v1
                atena_number       text        NOT NULL,     -- 宛名番号
                policy_id          text        NOT NULL,     -- 提供・移転先の区分 (policies.yaml)
                kind               text        NOT NULL,     -- 提供・移転の別
                recipient          text        NOT NULL,     -- 提供・移転先
                purpose            text        NOT NULL,     -- 利用目的
                legal_basis        text        NOT NULL,     -- 根拠法令
                fields             text[]      NOT NULL,     -- 項目 (names only)
                batch_id           text        NOT NULL,     -- 移転バッチID・送付番号
                channel            text        NOT NULL,     -- 経路 (topic or 電子媒体)
                record_id          uuid,
                corrects_record_id uuid,
                cancelled          boolean     NOT NULL,     -- 取消
                sent_on            date        NOT NULL,     -- 提供・移転日 (Japan time)
                recorded_at        timestamptz NOT NULL)""",
            "CREATE INDEX transfer_record_by_person ON counter.transfer_record (atena_number, recorded_at)",
            "COMMENT ON TABLE counter.transfer_record IS '提供・移転の記録 per person as transfer_dispatch announced "
            "them: recipient, purpose, basis, field names, batch; never values, never My Number'",
        ]
    )


def downgrade() -> None:
    raise NotImplementedError("forward-only: write a new migration")
