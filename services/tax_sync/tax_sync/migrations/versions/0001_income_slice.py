"""Income slice (＜所得情報＞ of 別添2): every assessment and correction kept, one current per person and
income year; the persons known from the resident record; imported annual files; inbox and outbox.

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
            *outbox_ddl("tax"),
            """CREATE TABLE tax.income_assessment (
                atena_number                        text    NOT NULL,  -- 宛名番号
                income_year                         integer NOT NULL,  -- 所得年
                correction_seq                      integer NOT NULL,  -- 更正連番 (0 = 当初賦課)
                tax_year                            integer NOT NULL,  -- 課税年度
                assessed_on                         date    NOT NULL,  -- 賦課決定日・更正日
                general_dependants                  integer NOT NULL,  -- 一般扶養数
                elderly_dependants                  integer NOT NULL,  -- 老人扶養数
                specified_dependants                integer NOT NULL,  -- 特定扶養数
                spouse_deduction                    text    NOT NULL,  -- 控除対象配偶者
                disabled_dependants                 integer NOT NULL,  -- 障害者扶養数
                specially_disabled_dependants       integer NOT NULL,  -- 特別障害者扶養数
                young_dependants                    integer NOT NULL,  -- 年少扶養数
                disability_class                    text    NOT NULL,  -- 本人障害者区分
                widow_class                         text    NOT NULL,  -- 本人寡婦区分
                working_student                     boolean NOT NULL,  -- 本人勤労学生区分
                single_parent                       boolean NOT NULL,  -- ひとり親
                tax_exempt                          boolean NOT NULL,  -- 非課税
                public_pension_income               bigint  NOT NULL,  -- 公的年金収入
                public_pension_misc_income          bigint  NOT NULL,  -- 公的年金等雑所得
                total_income                        bigint  NOT NULL,  -- 合計所得金額
                net_loss                            bigint  NOT NULL,  -- 純損失
                casualty_loss_deduction             bigint  NOT NULL,  -- 雑損控除
                medical_expense_deduction           bigint  NOT NULL,  -- 医療費控除
                social_insurance_deduction          bigint  NOT NULL,  -- 社会保険料控除
                spouse_special_deduction            bigint  NOT NULL,  -- 配偶者特別控除
                small_business_mutual_aid_deduction bigint  NOT NULL,  -- 小規模企業共済等掛金控除
                person_verified     boolean     NOT NULL,  -- 宛名確認済み (known from residency.person-changed.v1)
                event_id            uuid        NOT NULL,  -- the tax.income-determined.v1 this figure caused
                supersedes_event_id uuid,                  -- the figure it superseded (a correction)
                source_event_id     uuid,                  -- tax.income-assessed.v1 event it came from, or
                source_file         integer,               -- the annual file (tax.imported_file.id) …
                source_line         integer,               -- … and line it came from
                recorded_at         timestamptz NOT NULL DEFAULT now(),
                superseded_at       timestamptz,           -- when a higher 更正連番 replaced it
                PRIMARY KEY (atena_number, income_year, correction_seq),
                CONSTRAINT one_source CHECK ((source_event_id IS NULL) <> (source_file IS NULL)))""",
            "CREATE UNIQUE INDEX one_current_assessment ON tax.income_assessment (atena_number, income_year) "
            "WHERE superseded_at IS NULL",
            "COMMENT ON TABLE tax.income_assessment IS '所得情報: each resident-tax assessment and correction (更正) "
            "of a person''s income year. The one with the highest 更正連番 is current (superseded_at IS NULL); "
            "a stale or repeated one is not stored'",
            """CREATE TABLE tax.known_person (
                atena_number  text        PRIMARY KEY,    -- 宛名番号
                is_resident   boolean     NOT NULL,       -- 住民である (消除されていない)
                last_event_id uuid        NOT NULL,       -- the residency.person-changed.v1 it was learned from
                updated_at    timestamptz NOT NULL DEFAULT now())""",
            "COMMENT ON TABLE tax.known_person IS 'Persons the resident record knows (from "
            "residency.person-changed.v1): an assessment for anyone else is kept with person_verified = false'",
            """CREATE TABLE tax.imported_file (
                id          serial      PRIMARY KEY,
                digest      text        NOT NULL UNIQUE,  -- SHA-256 of the file''s bytes
                file_name   text        NOT NULL,
                encoding    text        NOT NULL,         -- utf-8 or cp932 (detected)
                lines       integer     NOT NULL,         -- data lines read
                applied     integer     NOT NULL,         -- assessments stored (determined or corrected)
                unchanged   integer     NOT NULL,         -- duplicates and stale corrections (no-ops)
                rejected    integer     NOT NULL,         -- lines in the reject report
                imported_at timestamptz NOT NULL DEFAULT now())""",
            "COMMENT ON TABLE tax.imported_file IS 'Annual files applied: importing the same bytes again is a no-op'",
        ]
    )


def downgrade() -> None:
    raise NotImplementedError("forward-only: write a new migration")
