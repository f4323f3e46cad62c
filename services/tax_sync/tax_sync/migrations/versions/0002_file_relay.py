"""The annual file's figures are published from the slice by the file relay: its progress per file, and
an index to read a file's figures in line order.

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
            "ALTER TABLE tax.imported_file ADD COLUMN published_through integer NOT NULL DEFAULT 0, "
            "ADD COLUMN published_at timestamptz",
            "COMMENT ON COLUMN tax.imported_file.published_through IS 'The file relay has published the "
            "tax.income-determined.v1 of every figure from lines up to here (acknowledged by Kafka)'",
            "CREATE INDEX income_by_file_line ON tax.income_assessment (source_file, source_line) "
            "WHERE source_file IS NOT NULL",
        ]
    )


def downgrade() -> None:
    raise NotImplementedError("forward-only: write a new migration")
