"""Each service owns its schema: its application role reads and writes its own tables and nothing else."""

from __future__ import annotations

import asyncpg
import pytest
from kokunen_testing.platform import Platform

pytestmark = pytest.mark.integration

OWN_TABLE = {
    "residency_sync": "residency.person_version",
    "eligibility": "eligibility.qualification_version",
    "tax_sync": "tax.income_assessment",
    "transfer_dispatch": "dispatch.transfer_log",
    "counter": "counter.access_log",
}


@pytest.mark.parametrize("reader", sorted(OWN_TABLE))
@pytest.mark.parametrize("owner", sorted(OWN_TABLE))
async def test_a_service_role_cannot_read_another_services_tables(platform: Platform, reader: str, owner: str) -> None:
    conn = await platform.connect_as(reader)
    try:
        if reader == owner:
            assert await conn.fetchval(f"SELECT count(*) FROM {OWN_TABLE[owner]}") >= 0
        else:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetchval(f"SELECT count(*) FROM {OWN_TABLE[owner]}")
    finally:
        await conn.close()


async def test_an_application_role_cannot_change_its_schema(platform: Platform) -> None:
    conn = await platform.connect_as("residency_sync")
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE TABLE residency.scratch (x int)")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE TABLE public.scratch (x int)")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("DROP TABLE residency.person")
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("service", "log", "column"),
    [("transfer_dispatch", "dispatch.transfer_log", "record_count"), ("counter", "counter.access_log", "result_count")],
)
async def test_the_transfer_log_and_the_access_log_are_append_only_for_their_service(
    platform: Platform, service: str, log: str, column: str
) -> None:
    """提供・移転の記録 and アクセスログ: the service's own role may add rows and read them, never change them."""
    conn = await platform.connect_as(service)
    try:
        assert await conn.fetchval(f"SELECT count(*) FROM {log}") >= 0
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(f"UPDATE {log} SET {column} = 0")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(f"DELETE FROM {log}")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(f"TRUNCATE {log}")
    finally:
        await conn.close()
