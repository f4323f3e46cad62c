"""Eligibility slice: persons as eligibility needs them, qualification periods with bitemporal
versions and no overlapping periods, inbox and outbox.

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
            *outbox_ddl("eligibility"),
            """CREATE TABLE eligibility.person (
                atena_number         text        PRIMARY KEY,        -- 宛名番号
                birth_date           date        NOT NULL,           -- 生年月日
                lives_in_japan       boolean     NOT NULL,           -- 国内居住
                is_resident          boolean     NOT NULL,           -- 住民である
                resident_class       text        NOT NULL,           -- 住民区分
                nationality          text,                           -- 国籍
                residence_status     jsonb,                          -- 在留資格情報
                my_number_sealed     text,                           -- 個人番号 (AES-GCM)
                basic_pension_number text,                           -- 基礎年金番号 (年金基本)
                other_category       text        NOT NULL DEFAULT 'unknown',  -- 第2号/第3号 (see comment)
                address_unknown      boolean     NOT NULL DEFAULT false,      -- 住所不明候補 (職権消除)
                updated_at           timestamptz NOT NULL DEFAULT now())""",
            "COMMENT ON COLUMN eligibility.person.other_category IS "
            "'Whether the person is 第2号/第3号 is not in the resident record: it comes from JPS data or filings. "
            "unknown until one of them says'",
            """CREATE TABLE eligibility.qualification_version (
                version_id         bigserial   PRIMARY KEY,
                period_id          uuid        NOT NULL,
                atena_number       text        NOT NULL,
                category           text        NOT NULL,   -- 被保険者種別
                acquired_on        date        NOT NULL,   -- 資格取得日
                acquisition_reason text        NOT NULL,   -- 資格取得事由
                lost_on            date,                   -- 資格喪失日
                loss_reason        text,                   -- 資格喪失事由
                recorded_at        timestamptz NOT NULL DEFAULT clock_timestamp(),  -- transaction time
                superseded_at      timestamptz,            -- replaced by a later version at
                cause_event_id     uuid,                   -- the input event that produced this version
                published_event_id uuid        NOT NULL UNIQUE,  -- the QualificationChanged it caused
                CONSTRAINT loss_not_before_acquisition CHECK (lost_on IS NULL OR lost_on >= acquired_on),
                CONSTRAINT loss_date_and_reason_together CHECK ((lost_on IS NULL) = (loss_reason IS NULL)),
                CONSTRAINT no_overlapping_periods EXCLUDE USING gist (
                    atena_number WITH =, daterange(acquired_on, lost_on, '[)') WITH &&
                ) WHERE (superseded_at IS NULL))""",
            "CREATE UNIQUE INDEX one_current_version_per_period ON eligibility.qualification_version (period_id) "
            "WHERE superseded_at IS NULL",
            "CREATE INDEX qualification_by_person ON eligibility.qualification_version (atena_number, acquired_on)",
            "CREATE INDEX qualification_by_cause ON eligibility.qualification_version (cause_event_id)",
            "COMMENT ON TABLE eligibility.qualification_version IS '資格情報: category-1 / voluntary insured periods. "
            "A change supersedes the current version of a period (transaction time); the exclusion constraint "
            "forbids overlapping current periods of one person'",
        ]
    )


def downgrade() -> None:
    raise NotImplementedError("forward-only: write a new migration")
