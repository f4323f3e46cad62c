"""Legacy file imports (連携基盤のファイル連携): one row per file imported, its reject report, and for full
extracts the reconciliation reports (persons absent from the extract, persons whose line differs).

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
            """CREATE TABLE residency.file_import (
                import_id     uuid        PRIMARY KEY,  -- derived from kind + file digest: a re-import is a no-op
                kind          text        NOT NULL CHECK (kind IN ('full', 'differential')),
                file_name     text        NOT NULL,
                file_digest   text        NOT NULL,     -- SHA-256 of the file's bytes
                encoding      text        NOT NULL,
                status        text        NOT NULL CHECK (status IN ('running', 'completed')),
                started_at    timestamptz NOT NULL DEFAULT now(),
                finished_at   timestamptz,
                lines         integer     NOT NULL DEFAULT 0,
                applied       integer     NOT NULL DEFAULT 0,
                unchanged     integer     NOT NULL DEFAULT 0,
                rejected      integer     NOT NULL DEFAULT 0,
                differing     integer     NOT NULL DEFAULT 0,
                absent        integer     NOT NULL DEFAULT 0)""",
            "COMMENT ON TABLE residency.file_import IS 'Full and differential extracts imported from file'",
            """CREATE TABLE residency.import_reject (
                import_id uuid    NOT NULL REFERENCES residency.file_import,
                line      integer NOT NULL,
                reason    text    NOT NULL,   -- the column and the rule, never the value
                PRIMARY KEY (import_id, line))""",
            "COMMENT ON TABLE residency.import_reject IS 'Reject report: lines not imported, and why'",
            """CREATE TABLE residency.import_absence (
                import_id    uuid NOT NULL REFERENCES residency.file_import,
                atena_number text NOT NULL,
                PRIMARY KEY (import_id, atena_number))""",
            "COMMENT ON TABLE residency.import_absence IS "
            "'Residents of the slice absent from a full extract: reported for staff, never deleted'",
            """CREATE TABLE residency.import_difference (
                import_id    uuid    NOT NULL REFERENCES residency.file_import,
                line         integer NOT NULL,
                atena_number text    NOT NULL,
                PRIMARY KEY (import_id, line))""",
            "COMMENT ON TABLE residency.import_difference IS "
            "'Lines of a full extract whose 宛名 differs from the slice: reported, not applied (changes come with "
            "their 異動事由 through the stream or a differential file)'",
        ]
    )


def downgrade() -> None:
    raise NotImplementedError("forward-only: write a new migration")
