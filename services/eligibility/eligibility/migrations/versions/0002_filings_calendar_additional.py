"""Filings (届出), 付加情報 with history, scheduled moves and the calendar watermark; 年金基本 fields.

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
            # ＜年金基本＞: 電話番号, 特記事項; and what 87条の2 / 7条 need to know of the person.
            "ALTER TABLE eligibility.person ADD COLUMN phone text",
            "ALTER TABLE eligibility.person ADD COLUMN pension_note text",
            "ALTER TABLE eligibility.person "
            "ADD COLUMN can_receive_kosei_old_age_benefit boolean NOT NULL DEFAULT false",
            "ALTER TABLE eligibility.person ADD COLUMN pension_fund_member boolean NOT NULL DEFAULT false",
            "ALTER TABLE eligibility.person ADD COLUMN designated_activity text",
            "CREATE INDEX person_by_birth_date ON eligibility.person (birth_date)",
            # What each qualification version did, so that a cancelled cause can be undone.
            "ALTER TABLE eligibility.qualification_version ADD COLUMN change_kind text",
            """UPDATE eligibility.qualification_version
               SET change_kind = CASE WHEN lost_on IS NULL THEN 'acquired' ELSE 'lost' END""",
            "ALTER TABLE eligibility.qualification_version ALTER COLUMN change_kind SET NOT NULL",
            """CREATE TABLE eligibility.filing (
                filing_id      uuid        PRIMARY KEY,           -- 受付番号
                event_id       uuid        NOT NULL,
                atena_number   text        NOT NULL,
                kind           text        NOT NULL,              -- 届出等の種類
                staff_id       text        NOT NULL,              -- 入力者
                department     text        NOT NULL,
                received_on    date        NOT NULL,              -- 受付日
                status         text        NOT NULL,              -- accepted | pending_confirmation | rejected
                rejection      text,
                confirmed_by   text,                              -- 確認者 (訂正)
                confirmed_at   timestamptz,
                payload        jsonb       NOT NULL,              -- the filing as received (no My Number in it)
                recorded_at    timestamptz NOT NULL DEFAULT clock_timestamp())""",
            "CREATE INDEX filing_by_person ON eligibility.filing (atena_number, received_on)",
            "COMMENT ON TABLE eligibility.filing IS '受付した届出・申出・申請 and what became of each'",
            """CREATE TABLE eligibility.additional_premium_version (
                version_id      bigserial   PRIMARY KEY,
                atena_number    text        NOT NULL,
                from_month      text        NOT NULL,   -- 付加加入月
                until_month     text,                   -- 最後の納付月 (付加脱退)
                cause_filing_id uuid,
                recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
                superseded_at   timestamptz)""",
            "CREATE UNIQUE INDEX one_current_additional_premium ON eligibility.additional_premium_version "
            "(atena_number, from_month) WHERE superseded_at IS NULL",
            "COMMENT ON TABLE eligibility.additional_premium_version IS "
            "'＜付加情報＞ 付加加入・付加脱退, with history'",
            """CREATE TABLE eligibility.scheduled_move (
                cause_event_id uuid        PRIMARY KEY,   -- the person change that announced the move
                atena_number   text        NOT NULL,
                due_on         date        NOT NULL,      -- 転出予定日
                scheduled_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
                applied_at     timestamptz,
                cancelled_at   timestamptz)""",
            "CREATE INDEX scheduled_move_due ON eligibility.scheduled_move (due_on) "
            "WHERE applied_at IS NULL AND cancelled_at IS NULL",
            """CREATE TABLE eligibility.calendar_watermark (
                id          boolean PRIMARY KEY DEFAULT true CHECK (id),
                scanned_to  date    NOT NULL)""",
            "COMMENT ON TABLE eligibility.calendar_watermark IS 'The last day the calendar scheduler has covered'",
        ]
    )


def downgrade() -> None:
    raise NotImplementedError("forward-only: write a new migration")
