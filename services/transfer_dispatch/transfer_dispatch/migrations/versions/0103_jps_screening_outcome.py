"""免除等申請の進達 carries the city's screening result (所得審査結果): passed, failed or income unknown, beside
the tier it names — JPS must not read an application whose income was not known as one that passed.

Revision ID: 0103
"""

from kokunen_common.database_setup import execute_all

revision = "0103"
down_revision = "0102"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_all(
        [
            "ALTER TABLE dispatch.jps_report ADD COLUMN IF NOT EXISTS screening_outcome text",
            "COMMENT ON COLUMN dispatch.jps_report.screening_outcome IS "
            "'市の所得審査の結果 (免除等申請: passed / failed / income_unknown); NULL for other reports'",
        ]
    )
