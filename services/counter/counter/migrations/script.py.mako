"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from kokunen_common.database_setup import execute_all

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_all([])


def downgrade() -> None:
    raise NotImplementedError("forward-only: write a new migration")
