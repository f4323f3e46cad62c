"""Premium exemptions (免除・納付猶予・学生納付特例): the household and income facts screening reads (from
residency and tax events), applications, their screenings with history, and staff follow-ups.

Revision ID: 0005
"""

from kokunen_common.database_setup import execute_all

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_all(
        [
            """CREATE TABLE eligibility.household_version (
                event_id                 uuid        PRIMARY KEY,   -- the residency.person-changed event
                atena_number             text        NOT NULL,
                household_number         text        NOT NULL,      -- 世帯番号
                relationship             text,                      -- 続柄 (世帯主との続柄)
                householder_atena_number text,                      -- 世帯主の宛名番号
                is_resident              boolean     NOT NULL,
                effective_date           date        NOT NULL,      -- 異動日
                recorded_at              timestamptz NOT NULL DEFAULT clock_timestamp())""",
            "CREATE INDEX household_version_by_person ON eligibility.household_version "
            "(atena_number, effective_date DESC, recorded_at DESC)",
            "CREATE INDEX household_version_by_household ON eligibility.household_version (household_number)",
            "COMMENT ON TABLE eligibility.household_version IS '世帯 as of each 異動日: who is whose spouse and "
            "householder on a day (免除等の所得審査: 本人・配偶者・世帯主)'",
            """CREATE TABLE eligibility.income (
                event_id       uuid        PRIMARY KEY,   -- the tax.income-determined event
                atena_number   text        NOT NULL,
                income_year    integer     NOT NULL,      -- 所得年
                correction_seq integer     NOT NULL,      -- 更正連番 (the highest is current)
                figures        jsonb       NOT NULL,      -- the figures screening reads (no name, no address)
                recorded_at    timestamptz NOT NULL DEFAULT clock_timestamp())""",
            "CREATE INDEX income_current ON eligibility.income (atena_number, income_year, correction_seq DESC)",
            "COMMENT ON TABLE eligibility.income IS '所得情報 as tax_sync determined it, every correction kept'",
            """CREATE TABLE eligibility.exemption_application (
                application_id uuid        PRIMARY KEY,   -- 受付番号
                event_id       uuid        NOT NULL,
                atena_number   text        NOT NULL,
                kind           text        NOT NULL,      -- 申請免除 | 納付猶予 | 学生納付特例
                received_on    date        NOT NULL,
                first_month    text        NOT NULL,
                last_month     text        NOT NULL,
                continuation   boolean     NOT NULL,      -- 継続審査の希望
                status         text        NOT NULL,      -- screened | refused
                payload        jsonb       NOT NULL,      -- the application as received
                jps_outcome    text,                      -- 処理結果 from the 処理結果一覧表
                jps_processed_on date,
                continues_application_id uuid,           -- 継続審査: the approved application it continues
                recorded_at    timestamptz NOT NULL DEFAULT clock_timestamp())""",
            "CREATE INDEX exemption_application_by_person ON eligibility.exemption_application (atena_number)",
            "CREATE UNIQUE INDEX one_continuation_per_year ON eligibility.exemption_application "
            "(continues_application_id, first_month) WHERE continues_application_id IS NOT NULL",
            "CREATE INDEX exemption_application_continued ON eligibility.exemption_application (first_month) "
            "WHERE continuation AND jps_outcome = 'processed'",
            """CREATE TABLE eligibility.exemption_screening (
                event_id        uuid        PRIMARY KEY,  -- the eligibility.exemption-screened event
                application_id  uuid        NOT NULL REFERENCES eligibility.exemption_application,
                cause_event_id  uuid        NOT NULL,     -- the application or the income that caused it
                outcome         text        NOT NULL,     -- passed | failed | income_unknown | refused
                decision        text,                     -- the highest tier that passed
                income_year     integer,
                household_on    date,
                household       jsonb,                    -- {householder, spouse} as screened
                persons         text[]      NOT NULL DEFAULT '{}',  -- 宛名番号 whose income was read
                result          jsonb       NOT NULL,     -- the event's checks and explanation
                recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
                superseded_at   timestamptz)""",
            "CREATE UNIQUE INDEX one_current_screening ON eligibility.exemption_screening (application_id) "
            "WHERE superseded_at IS NULL",
            "CREATE INDEX exemption_screening_by_person ON eligibility.exemption_screening USING gin (persons) "
            "WHERE superseded_at IS NULL",
            """CREATE TABLE eligibility.exemption_period (
                period_id       uuid        PRIMARY KEY,  -- derived from the 届出 that recorded this version
                notification_id uuid        NOT NULL,     -- 受付番号 of the 届出
                atena_number    text        NOT NULL,
                status          text        NOT NULL,     -- statutory_exemption | pre_postnatal_exemption
                first_month     text        NOT NULL,
                last_month      text,                     -- NULL: 法定免除 not yet ended
                reason          text        NOT NULL,
                article         text        NOT NULL,
                recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
                superseded_at   timestamptz)""",
            "CREATE INDEX exemption_period_by_person ON eligibility.exemption_period (atena_number) "
            "WHERE superseded_at IS NULL",
            "CREATE UNIQUE INDEX one_open_statutory_exemption ON eligibility.exemption_period (atena_number) "
            "WHERE superseded_at IS NULL AND last_month IS NULL AND status = 'statutory_exemption'",
            "COMMENT ON TABLE eligibility.exemption_period IS '免除情報 of 届出: 法定免除 (89条) and 産前産後免除 "
            "(88条の2), with history'",
            """CREATE TABLE eligibility.follow_up (
                follow_up_id   uuid        PRIMARY KEY,   -- derived from its cause
                atena_number   text        NOT NULL,
                reason         text        NOT NULL,      -- 要対応の理由 (FollowUp)
                application_id uuid,
                detail         text        NOT NULL,      -- what changed, for staff
                opened_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
                resolved_by    text,
                resolved_at    timestamptz)""",
            "CREATE INDEX follow_up_open ON eligibility.follow_up (opened_at) WHERE resolved_at IS NULL",
            "COMMENT ON TABLE eligibility.follow_up IS 'Work items for staff other than JPS results (jps_result "
            "keeps those): e.g. a screening whose outcome changed after an income correction (更正)'",
            # Every open work item in one place, whichever table holds it.
            """CREATE VIEW eligibility.open_follow_up AS
                SELECT event_id AS follow_up_id, atena_number, follow_up AS reason, report_id AS application_id,
                       coalesce(jps_message, '') AS detail, recorded_at AS opened_at
                FROM eligibility.jps_result WHERE follow_up IS NOT NULL AND resolved_at IS NULL
                UNION ALL
                SELECT follow_up_id, atena_number, reason, application_id, detail, opened_at
                FROM eligibility.follow_up WHERE resolved_at IS NULL""",
        ]
    )


def downgrade() -> None:
    raise NotImplementedError("forward-only: write a new migration")
