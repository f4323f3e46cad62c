"""移転1 (随時) decides its records by the same rule as 移転4 (domain/changes.py), one change at a time: its records
now say which person and which change they carry, like 移転4's, so the records a person holds in force can be found.

Records sent before this revision are given theirs here: a 移転1 record's id derives from its change's event
(``derived_id(event, "transfer", "resident_register")``), which only Python computes (UUID v5).

Revision ID: 0005
"""

from typing import Any

from alembic import op
from kokunen_common.database_setup import execute_all
from kokunen_common.ids import derived_id
from sqlalchemy import text

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_all(
        ["CREATE INDEX qualification_change_by_person ON dispatch.qualification_change (atena_number, arrival)"]
    )
    name_legacy_records(op.get_bind())
    execute_all(
        [
            "INSERT INTO dispatch.batched_change (policy_id, change_record_id, batch_id) "
            "SELECT policy_id, change_record_id, batch_id FROM dispatch.transfer_item "
            "WHERE policy_id = 'resident_register' AND change_record_id IS NOT NULL ON CONFLICT DO NOTHING",
        ]
    )


def name_legacy_records(bind: Any) -> None:
    """Give each 移転1 record sent before this revision its person and change."""
    changes = bind.execute(
        text(
            "SELECT record_id, source_event_id, atena_number FROM dispatch.qualification_change "
            "WHERE basic_pension_number IS NOT NULL"
        )
    ).all()
    if changes:
        bind.execute(
            text(
                """UPDATE dispatch.transfer_item i SET change_record_id = m.change, subject_key = m.atena
                   FROM unnest(CAST(:own AS uuid[]), CAST(:change AS uuid[]), CAST(:atena AS text[]))
                        AS m(own, change, atena)
                   WHERE i.policy_id = 'resident_register' AND i.record_id = m.own AND i.change_record_id IS NULL"""
            ),
            {
                "own": [derived_id(c.source_event_id, "transfer", "resident_register") for c in changes],
                "change": [c.record_id for c in changes],
                "atena": [c.atena_number for c in changes],
            },
        )


def downgrade() -> None:
    raise NotImplementedError("forward-only: write a new migration")
