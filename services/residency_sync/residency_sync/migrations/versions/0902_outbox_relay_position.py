"""The outbox relay's position (issue 12, ADR 0008): each row records the transaction that wrote it (``relay_xid``,
indexed), the partial index on unpublished rows goes and pages are filled to half, so that marking a row published is
a HOT update and the relay finds what is pending without visiting what it published. Statements idempotent: new
schemas get them from outbox_ddl.

Revision ID: 0902
Revises: 0901
"""

from kokunen_common.database_setup import execute_all
from kokunen_common.outbox import relay_position_ddl

revision = "0902"
down_revision = "0901"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_all(relay_position_ddl("residency"))
