"""Schemas, roles and migrations: each service owns one schema, through two roles.

- ``<schema>_owner`` owns the schema and its tables; migrations (Alembic) run as this role.
- ``<schema>_app`` is what the running service logs in as: it may read and write the rows of its own
  schema and nothing else — no DDL, no other service's schema.

``bootstrap`` runs once per database as a superuser (a DBA's step in production).
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

from .logs import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class ServiceSchema:
    service: str
    schema: str

    @property
    def owner_role(self) -> str:
        return f"{self.schema}_owner"

    @property
    def app_role(self) -> str:
        return f"{self.schema}_app"


SERVICE_SCHEMAS: tuple[ServiceSchema, ...] = (
    ServiceSchema("residency_sync", "residency"),
    ServiceSchema("tax_sync", "tax"),
    ServiceSchema("eligibility", "eligibility"),
    ServiceSchema("transfer_dispatch", "dispatch"),
    ServiceSchema("counter", "counter"),
)
BY_SERVICE = {s.service: s for s in SERVICE_SCHEMAS}


def role_password(role: str) -> str:
    """``<ROLE>_PASSWORD`` from the environment; locally (trust auth) the role name stands in."""
    return os.environ.get(f"{role.upper()}_PASSWORD", role)


def url_for_role(admin_url: str, role: str, password: str | None = None) -> str:
    """The admin URL with another user (and password) in it."""
    parts = urlsplit(admin_url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{quote(role)}:{quote(password or role_password(role))}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


async def bootstrap(admin_url: str, schemas: tuple[ServiceSchema, ...] = SERVICE_SCHEMAS) -> None:
    """Create roles and schemas (idempotent). Needs a superuser (or CREATEROLE + CREATE on the DB)."""
    conn = await asyncpg.connect(admin_url)
    try:
        database = await conn.fetchval("SELECT current_database()")
        await conn.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        # Nobody creates objects in public; each service has its schema.
        await conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        for s in schemas:
            for role in (s.owner_role, s.app_role):
                exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
                verb = "ALTER" if exists else "CREATE"
                password = role_password(role).replace("'", "''")
                await conn.execute(f"{verb} ROLE {role} LOGIN PASSWORD '{password}'")
            await conn.execute(f"GRANT CONNECT ON DATABASE {database} TO {s.owner_role}, {s.app_role}")
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {s.schema} AUTHORIZATION {s.owner_role}")
            await conn.execute(f"REVOKE ALL ON SCHEMA {s.schema} FROM PUBLIC")
            await conn.execute(f"GRANT USAGE ON SCHEMA {s.schema} TO {s.app_role}")
            await conn.execute(
                f"ALTER DEFAULT PRIVILEGES FOR ROLE {s.owner_role} IN SCHEMA {s.schema} "
                f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {s.app_role}"
            )
            await conn.execute(
                f"ALTER DEFAULT PRIVILEGES FOR ROLE {s.owner_role} IN SCHEMA {s.schema} "
                f"GRANT USAGE, SELECT ON SEQUENCES TO {s.app_role}"
            )
            await conn.execute(
                f"ALTER DEFAULT PRIVILEGES FOR ROLE {s.owner_role} IN SCHEMA {s.schema} "
                f"GRANT EXECUTE ON FUNCTIONS TO {s.app_role}"
            )
            # Owner and app roles see only their own schema on the search path.
            for role in (s.owner_role, s.app_role):
                await conn.execute(f"ALTER ROLE {role} SET search_path = {s.schema}")
    finally:
        await conn.close()


def _alembic_config(migrations_dir: Path, url: str, schema: str) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", url.replace("postgresql://", "postgresql+asyncpg://", 1))
    config.attributes["kokunen_schema"] = schema
    return config


def upgrade_sync(migrations_dir: Path, url: str, schema: str, revision: str = "heads") -> None:
    """Upgrade to every head: independent lines of migrations (Alembic branch labels) may coexist
    in one service, e.g. a feature's own tables."""
    from alembic import command

    command.upgrade(_alembic_config(migrations_dir, url, schema), revision)


async def migrate(migrations_dir: Path, url: str, schema: str) -> None:
    """Apply the service's Alembic migrations as its owner role (in a thread: Alembic is sync)."""
    await asyncio.to_thread(upgrade_sync, migrations_dir, url, schema)
    log.info("migrations applied", schema=schema)


def run_alembic_env() -> None:
    """Body of every service's ``migrations/env.py``: online migrations over asyncpg, with the
    version table kept inside the service's own schema."""
    from alembic import context
    from sqlalchemy import pool
    from sqlalchemy.ext.asyncio import create_async_engine

    config = context.config
    schema = config.attributes["kokunen_schema"]

    def run(connection: Any) -> None:
        context.configure(connection=connection, version_table_schema=schema, transactional_ddl=True)
        with context.begin_transaction():
            context.run_migrations()

    async def online() -> None:
        engine = create_async_engine(str(config.get_main_option("sqlalchemy.url")), poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(run)
            await connection.commit()
        await engine.dispose()

    if context.is_offline_mode():
        raise RuntimeError("offline migrations are not supported: run them against the database")
    asyncio.run(online())


def execute_all(statements: list[str]) -> None:
    """Run DDL statements in a migration, one per call (asyncpg prepares each statement)."""
    from alembic import op

    for statement in statements:
        op.execute(statement)
