"""Alembic environment of the counter schema (shared body in kokunen_common)."""

from kokunen_common.database_setup import run_alembic_env

run_alembic_env()
