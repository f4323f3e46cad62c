"""Delivery safety (issue 13): the dead-letter store with raw bytes, the relay's quarantine and the redelivery
counter. Its own Alembic branch ``delivery`` (statements idempotent: new schemas get them from outbox_ddl).

Revision ID: 0901
"""

from kokunen_common.database_setup import execute_all
from kokunen_common.outbox import delivery_safety_ddl

revision = "0901"
down_revision = None
branch_labels = ("delivery",)
depends_on = ("0001",)  # the schema's inbox and outbox


def upgrade() -> None:
    execute_all(delivery_safety_ddl("eligibility"))
