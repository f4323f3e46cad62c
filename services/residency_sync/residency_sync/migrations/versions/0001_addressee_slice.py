"""Addressee slice (＜宛名＞ of 別添2) with bitemporal history, inbox and outbox.

Revision ID: 0001
"""

from kokunen_common.database_setup import execute_all
from kokunen_common.outbox import outbox_ddl

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ADDRESSEE_COLUMNS = """
    household_number      text    NOT NULL,   -- 世帯番号
    name                  text    NOT NULL,   -- 氏名
    name_kana             text,               -- 氏名カナ
    former_surname        text,               -- 旧氏
    birth_date            date    NOT NULL,   -- 生年月日
    sex                   text    NOT NULL,   -- 性別
    relationship          text    NOT NULL,   -- 続柄
    resident_class        text    NOT NULL,   -- 住民区分
    householder           jsonb,              -- 世帯主情報
    became_resident       jsonb,              -- 住民となった事由
    current_address       jsonb   NOT NULL,   -- 現住所情報
    previous_address      jsonb,              -- 前住所情報
    moved_in_from         jsonb,              -- 転入元住所情報
    moved_out_to          jsonb,              -- 転出先住所情報
    family_register_head  text,               -- 筆頭者情報
    removal               jsonb,              -- 消除情報
    nationality           text,               -- 国籍
    alias                 text,               -- 通称
    processing_suspension jsonb,              -- 処理停止情報
    residence_status      jsonb,              -- 在留資格情報
    my_number_sealed      text,               -- 個人番号 (AES-GCM, key id inside)
    my_number_key_id      text,               -- key id, for rotation
    my_number_hash        bytea,              -- keyed hash (HMAC-SHA256) for lookup
    is_resident           boolean NOT NULL,   -- 住民である
    lives_in_japan        boolean NOT NULL    -- 国内に住所を有する
"""


def upgrade() -> None:
    execute_all(
        [
            *outbox_ddl("residency"),
            f"""CREATE TABLE residency.person_version (
                version_id         bigserial   PRIMARY KEY,
                atena_number       text        NOT NULL,   -- 宛名番号
                change_id          text        NOT NULL UNIQUE,  -- 異動番号 (upstream)
                reason             text        NOT NULL,   -- 異動事由
                effective_date     date        NOT NULL,   -- 異動日 (valid time)
                processed_on       date        NOT NULL,   -- 処理日
                recorded_at        timestamptz NOT NULL DEFAULT clock_timestamp(),  -- transaction time
                cancelled_at       timestamptz,            -- voided by 異動の取消し at
                cancelled_by       text,                   -- the cancelling 異動番号
                source_event_id    uuid        NOT NULL,
                published_event_id uuid,                   -- the PersonChanged this version caused
                arrival            text        NOT NULL,   -- first_sight / in_order / late
                {ADDRESSEE_COLUMNS})""",
            "CREATE INDEX person_version_by_person ON residency.person_version (atena_number, effective_date)",
            "COMMENT ON TABLE residency.person_version IS '宛名 history: one row per resident-record change, "
            "valid time (effective_date) and transaction time (recorded_at, cancelled_at)'",
            """CREATE TABLE residency.person (
                atena_number          text    PRIMARY KEY,
                current_version_id    bigint  NOT NULL REFERENCES residency.person_version,
                latest_effective_date date    NOT NULL,
                is_resident           boolean NOT NULL,
                my_number_hash        bytea,
                updated_at            timestamptz NOT NULL DEFAULT now())""",
            "CREATE INDEX person_by_my_number_hash ON residency.person (my_number_hash)",
            "COMMENT ON TABLE residency.person IS "
            "'Current 宛名 of each person: the latest effective, uncancelled version'",
            """CREATE TABLE residency.parked_cancellation (
                cancels_change_id text PRIMARY KEY,
                change_id         text NOT NULL,
                atena_number      text NOT NULL,
                source_event_id   uuid NOT NULL,
                received_at       timestamptz NOT NULL DEFAULT now())""",
            "COMMENT ON TABLE residency.parked_cancellation IS "
            "'異動の取消し that arrived before the change it cancels: applied when that change arrives'",
        ]
    )


def downgrade() -> None:
    raise NotImplementedError("forward-only: write a new migration")
