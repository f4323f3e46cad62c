"""The outbox relay's position (issue 12, ADR 0008): each row records the transaction that wrote it (``relay_xid``,
indexed), the partial index on unpublished rows goes and pages are filled to half, so that marking a row published is
a HOT update and the relay finds what is pending without visiting what it published. Its own Alembic branch
``delivery``, as the other services' (statements idempotent: new schemas get them from outbox_ddl).

Revision ID: 0901
"""

from kokunen_common.database_setup import execute_all
from kokunen_common.outbox import relay_position_ddl

revision = "0901"
down_revision = None
branch_labels = ("delivery",)
depends_on = ("0001",)  # the schema's outbox


def upgrade() -> None:
    execute_all(relay_position_ddl("counter"))
