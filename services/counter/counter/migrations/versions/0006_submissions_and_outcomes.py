"""Counter (窓口): what staff submitted at the counter (届出・申請・請求, one row per submission, unique by the form's
idempotency key) and what eligibility answered to exemption applications, exemption notifications and benefit
claims (kept only from events).

Revision ID: 0006
"""

from kokunen_common.database_setup import execute_all

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_all(
        [
            """CREATE TABLE counter.submission (
                submission_id   uuid        PRIMARY KEY,  -- 受付番号 (filing_id, application_id, …)
                idempotency_key uuid        NOT NULL UNIQUE,  -- the form's: a resubmitted form files once
                family          text        NOT NULL,     -- filing, exemption_application, …
                kind            text        NOT NULL,     -- 届出等の種類
                atena_number    text        NOT NULL,     -- 宛名番号
                staff_id        text        NOT NULL,     -- 職員 (入力者, from the session)
                department      text        NOT NULL,     -- 部署 (from the session)
                received_on     date        NOT NULL,     -- 受付日
                confirms_id     uuid,                     -- 訂正の確認: the correction it confirms
                payload         jsonb       NOT NULL,     -- the event as published
                submitted_at    timestamptz NOT NULL DEFAULT now())""",
            "CREATE INDEX submission_by_person ON counter.submission (atena_number, submitted_at)",
            "CREATE INDEX submission_confirming ON counter.submission (confirms_id) WHERE confirms_id IS NOT NULL",
            # The 確認待ち queue reads corrections only.
            "CREATE INDEX submission_corrections ON counter.submission (submitted_at) WHERE kind = 'record_correction'",
            "COMMENT ON TABLE counter.submission IS '届出・申請・請求 as staff submitted them (the event went out "
            "through the outbox in the same transaction); kept on replay: no topic the counter reads holds them'",
            """CREATE TABLE counter.exemption_screening (
                event_id          uuid        PRIMARY KEY,  -- eligibility.exemption-screened.v1
                application_id    uuid        NOT NULL,     -- 受付番号
                atena_number      text        NOT NULL,
                kind              text        NOT NULL,     -- 申請の種類
                outcome           text        NOT NULL,     -- 審査結果
                decision          text,                     -- 該当する最も有利な区分
                first_month       text        NOT NULL,
                last_month        text        NOT NULL,
                income_year       integer,                  -- 審査した所得年
                refusals          jsonb       NOT NULL,     -- 不受理の理由 (rule, message)
                checks            jsonb       NOT NULL,     -- per tier and person: income used, limit, rule
                explanation       jsonb       NOT NULL,
                replaces_event_id uuid,                     -- 再審査で置き換えた審査結果
                effective_date    date        NOT NULL,
                recorded_at       timestamptz NOT NULL)""",
            "CREATE INDEX exemption_screening_by_person ON counter.exemption_screening (atena_number, recorded_at)",
            """CREATE TABLE counter.exemption_notification_outcome (
                event_id        uuid        PRIMARY KEY,  -- eligibility.exemption-notification-outcome.v1
                notification_id uuid        NOT NULL,     -- 受付番号
                atena_number    text        NOT NULL,
                kind            text        NOT NULL,     -- 届出の種類
                accepted        boolean     NOT NULL,
                first_month     text,                     -- 免除期間 始期
                last_month      text,                     -- 免除期間 終期
                reason          text,
                article         text,                     -- 根拠条文
                refusals        jsonb       NOT NULL,
                effective_date  date        NOT NULL,
                recorded_at     timestamptz NOT NULL)""",
            "CREATE INDEX exemption_notification_outcome_by_person ON counter.exemption_notification_outcome "
            "(atena_number, recorded_at)",
            """CREATE TABLE counter.benefit_claim_received (
                event_id       uuid        PRIMARY KEY,  -- eligibility.benefit-claim-received.v1
                claim_id       uuid        NOT NULL,     -- 受付番号
                atena_number   text        NOT NULL,     -- 請求者
                kind           text        NOT NULL,     -- 裁定請求の種類
                received       boolean     NOT NULL,
                pension_code   text,                     -- 年金コード
                checks         jsonb       NOT NULL,     -- 確認した事項
                refusals       jsonb       NOT NULL,
                effective_date date        NOT NULL,
                recorded_at    timestamptz NOT NULL)""",
            "CREATE INDEX benefit_claim_received_by_person ON counter.benefit_claim_received "
            "(atena_number, recorded_at)",
        ]
    )


def downgrade() -> None:
    raise NotImplementedError("forward-only: write a new migration")
