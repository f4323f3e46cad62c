"""Counter: the receptions (受付) of the submission topics and eligibility's answers to applications, notifications
and claims — what the 受付処理簿 and the 開示請求 export read.

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
            """CREATE TABLE counter.reception (
                receipt_id   uuid        PRIMARY KEY,  -- 受付番号 (filing, application, notification, claim)
                source       text        NOT NULL,     -- domain/reception.py Source
                kind         text        NOT NULL,     -- 届出等の種類 (the contract's value)
                atena_number text        NOT NULL,     -- 宛名番号
                received_on  date        NOT NULL,     -- 受付日
                department   text        NOT NULL,     -- 部署 (the counter that received it)
                staff_id     text        NOT NULL,     -- 職員ID (入力者)
                event_id     uuid        NOT NULL,     -- the submission event
                recorded_at  timestamptz NOT NULL)""",
            "CREATE INDEX reception_by_department_and_day ON counter.reception (department, received_on)",
            "CREATE INDEX reception_by_person ON counter.reception (atena_number)",
            "COMMENT ON TABLE counter.reception IS '受付: counter.*-submitted.v1 as published (the 受付処理簿)'",
            """CREATE TABLE counter.decision (
                event_id          uuid        PRIMARY KEY,  -- the answer event (eligibility)
                receipt_id        uuid        NOT NULL,     -- 受付番号 it answers
                source            text        NOT NULL,     -- domain/reception.py Source
                kind              text        NOT NULL,
                atena_number      text        NOT NULL,
                outcome           text        NOT NULL,     -- accepted, refused (the reception's fate)
                result            text        NOT NULL,     -- 結果 in words (該当 (全額免除), 非該当, 受理, 不受理 …)
                summary           text        NOT NULL,     -- 説明 (rules and articles)
                detail            jsonb       NOT NULL,     -- the answer's facts (months, tier, refusals, checks)
                replaces_event_id uuid,                     -- 再審査: the screening it replaces
                recorded_at       timestamptz NOT NULL)""",
            "CREATE INDEX decision_by_receipt ON counter.decision (receipt_id, recorded_at)",
            "CREATE INDEX decision_by_person ON counter.decision (atena_number, recorded_at)",
            "CREATE INDEX IF NOT EXISTS filing_outcome_by_filing ON counter.filing_outcome (filing_id, recorded_at)",
        ]
    )


def downgrade() -> None:
    raise NotImplementedError("forward-only: write a new migration")
