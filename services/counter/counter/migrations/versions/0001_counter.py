"""Counter (窓口): the inquiry read model fed only by events, staff sessions, and the append-only, hash-chained
access log (アクセスログ).

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
            *outbox_ddl("counter"),
            """CREATE TABLE counter.person (
                atena_number        text        PRIMARY KEY,  -- 宛名番号
                household_number    text        NOT NULL,     -- 世帯番号
                name                text        NOT NULL,     -- 氏名
                name_kana           text,                     -- 氏名カナ
                kana_key            text,                     -- カナ氏名の検索キー (全角カタカナ, 空白なし)
                sex                 text        NOT NULL,     -- 性別
                birth_date          date        NOT NULL,     -- 生年月日
                address             jsonb       NOT NULL,     -- 住所
                is_resident         boolean     NOT NULL,     -- 住民である
                lives_in_japan      boolean     NOT NULL,     -- 国内居住
                resident_class      text        NOT NULL,     -- 住民区分
                suspended           boolean     NOT NULL DEFAULT false,  -- 処理停止 (DV等支援措置)
                suspension_reason   text,                     -- 処理停止事由
                my_number_sealed    text,                     -- 個人番号 (sealed as received: ADR 0002)
                change_kind         text        NOT NULL,     -- the last person-changed kind
                effective_date      date        NOT NULL,     -- its 異動日
                last_event_id       uuid        NOT NULL,
                recorded_at         timestamptz NOT NULL)""",
            "CREATE INDEX person_by_kana_and_birth ON counter.person (birth_date, kana_key)",
            "COMMENT ON TABLE counter.person IS '宛名 as residency.person-changed.v1 last described the person; "
            "My Number only sealed'",
            """CREATE TABLE counter.qualification_event (
                event_id           uuid        PRIMARY KEY,  -- eligibility.qualification-changed.v1
                atena_number       text        NOT NULL,
                kind               text        NOT NULL,     -- 資格異動の種類
                period_id          uuid        NOT NULL,     -- 資格期間ID
                category           text        NOT NULL,     -- 被保険者種別
                acquired_on        date        NOT NULL,     -- 資格取得日
                acquisition_reason text        NOT NULL,     -- 資格取得事由
                lost_on            date,                     -- 資格喪失日
                loss_reason        text,                     -- 資格喪失事由
                replaces_event_id  uuid,                     -- 訂正・取消対象
                basic_pension_number text,                   -- 基礎年金番号
                effective_date     date        NOT NULL,
                recorded_at        timestamptz NOT NULL)""",  # eligibility's recorded time: the bitemporal axis
            "CREATE INDEX qualification_event_by_person ON counter.qualification_event (atena_number, recorded_at)",
            # The 基礎年金番号 is read from here, not copied onto the person: two topics, two transactions, no race.
            "CREATE INDEX qualification_event_by_basic_pension_number ON counter.qualification_event "
            "(basic_pension_number) WHERE basic_pension_number IS NOT NULL",
            "COMMENT ON TABLE counter.qualification_event IS '資格異動 as eligibility announced them; the history "
            "as recorded on a date is folded from those recorded by then'",
            """CREATE TABLE counter.income (
                event_id            uuid        PRIMARY KEY,  -- tax.income-determined.v1
                atena_number        text        NOT NULL,
                income_year         integer     NOT NULL,     -- 所得年
                correction_seq      integer     NOT NULL,     -- 更正連番
                supersedes_event_id uuid,
                figures             jsonb       NOT NULL,     -- the screening figures, as published
                recorded_at         timestamptz NOT NULL)""",
            "CREATE INDEX income_by_person ON counter.income (atena_number, income_year)",
            """CREATE TABLE counter.filing_outcome (
                event_id     uuid        PRIMARY KEY,  -- eligibility.filing-outcome.v1
                filing_id    uuid        NOT NULL,     -- 受付番号
                atena_number text        NOT NULL,
                kind         text        NOT NULL,     -- 届出等の種類
                outcome      text        NOT NULL,     -- 処理結果
                rejection    text,                     -- 不受理の理由
                rule         text,
                message      text        NOT NULL,
                effective_date date      NOT NULL,
                recorded_at  timestamptz NOT NULL)""",
            "CREATE INDEX filing_outcome_by_person ON counter.filing_outcome (atena_number, recorded_at)",
            """CREATE TABLE counter.additional_premium (
                event_id           uuid        PRIMARY KEY,  -- eligibility.additional-premium-changed.v1
                atena_number       text        NOT NULL,
                kind               text        NOT NULL,     -- 付加加入・付加脱退
                from_month         text        NOT NULL,
                until_month        text,
                monthly_amount_yen integer     NOT NULL,
                reason             text        NOT NULL,
                recorded_at        timestamptz NOT NULL)""",
            "CREATE INDEX additional_premium_by_person ON counter.additional_premium (atena_number, recorded_at)",
            """CREATE TABLE counter.staff_session (
                session_id   text        PRIMARY KEY,  -- random; the signed cookie carries it
                staff_id     text        NOT NULL,     -- 職員 (the IdP's subject)
                staff_name   text        NOT NULL,
                department   text        NOT NULL,     -- 部署 (from the token)
                roles        text[]      NOT NULL,     -- from the token's claims
                csrf_token   text        NOT NULL,
                started_at   timestamptz NOT NULL DEFAULT now(),
                last_seen_at timestamptz NOT NULL DEFAULT now(),
                ended_at     timestamptz)""",
            "COMMENT ON TABLE counter.staff_session IS 'Signed-in staff: idle sessions expire, logout ends them'",
            """CREATE TABLE counter.access_log (
                seq             bigint      PRIMARY KEY,
                logged_at       timestamptz NOT NULL,  -- 処理日時
                staff_id        text        NOT NULL,  -- 職員
                staff_name      text        NOT NULL,
                department      text        NOT NULL,  -- 部署
                terminal        text        NOT NULL,  -- 端末 (client address)
                reason_code     text        NOT NULL,  -- 処理事由 (コード)
                reason_text     text        NOT NULL,  -- 処理事由 (具体的な内容)
                action          text        NOT NULL,  -- search, view, reveal_my_number, …
                atena_number    text,                  -- 宛名番号 (view, reveal)
                query           text,                  -- 検索条件 (search)
                result_count    integer,               -- 該当件数 (search)
                shown           jsonb       NOT NULL,  -- {"persons": [4情報 as shown, one per person on the screen]}
                my_number_shown boolean     NOT NULL,  -- 個人番号を表示したか
                prev_hash       bytea       NOT NULL,
                entry_hash      bytea       NOT NULL UNIQUE)""",
            "CREATE INDEX access_log_by_person ON counter.access_log (atena_number) WHERE atena_number IS NOT NULL",
            "CREATE INDEX access_log_by_staff ON counter.access_log (staff_id, logged_at)",
            "COMMENT ON TABLE counter.access_log IS 'アクセスログ: append-only, each row hashes its content and the "
            "previous row''s hash (counter verify-access-log)'",
            """CREATE FUNCTION counter.access_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    RAISE EXCEPTION 'counter.access_log is append-only (% refused)', TG_OP;
                END $$""",
            """CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON counter.access_log
                FOR EACH STATEMENT EXECUTE FUNCTION counter.access_log_is_append_only()""",
            "REVOKE UPDATE, DELETE, TRUNCATE ON counter.access_log FROM counter_app",
        ]
    )


def downgrade() -> None:
    raise NotImplementedError("forward-only: write a new migration")
