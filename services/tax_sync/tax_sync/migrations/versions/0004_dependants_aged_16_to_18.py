"""一般扶養数のうち16歳以上19歳未満: the number of 16–18-year-old dependants, kept when the tax system gives it.

Exemption screening deducts 63万円 for each of them (特定扶養親族等, 国民年金法施行令6条の9ほか) instead of the
general 38万円. Nullable: the older producers and the older file layout do not give it (unknown).

Revision ID: 0004
"""

from kokunen_common.database_setup import execute_all

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_all(
        [
            "ALTER TABLE tax.income_assessment ADD COLUMN IF NOT EXISTS general_dependants_aged_16_to_18 integer "
            "CHECK (general_dependants_aged_16_to_18 BETWEEN 0 AND general_dependants)"
        ]
    )
