"""Counter (窓口): JPS's decision (承認/却下) on an exemption application, as eligibility announces it from the
処理結果一覧表 (``eligibility.exemption-decided.v1``), kept beside the city's screening for the person page.

Revision ID: 0007
"""

from kokunen_common.database_setup import execute_all

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_all(
        [
            """CREATE TABLE counter.exemption_decision (
                event_id       uuid        PRIMARY KEY,  -- eligibility.exemption-decided.v1
                application_id uuid        NOT NULL,     -- 受付番号
                atena_number   text        NOT NULL,     -- 申請者
                kind           text        NOT NULL,     -- 申請の種類
                jps_decision   text        NOT NULL,     -- 日本年金機構の決定 (承認・却下)
                tier           text,                     -- 決定により適用される区分 (却下なら空)
                screened_tier  text,                     -- 市の所得審査で該当した区分
                first_month    text        NOT NULL,
                last_month     text        NOT NULL,
                decided_on     date,                     -- 処理年月日 (日本年金機構)
                explanation    text        NOT NULL,
                effective_date date        NOT NULL,
                recorded_at    timestamptz NOT NULL)""",
            "CREATE INDEX exemption_decision_by_person ON counter.exemption_decision (atena_number, recorded_at)",
        ]
    )


def downgrade() -> None:
    raise NotImplementedError("forward-only: write a new migration")
