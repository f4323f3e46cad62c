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


async def test_the_transfer_log_is_append_only_for_the_service(platform: Platform) -> None:
    conn = await platform.connect_as("transfer_dispatch")
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("UPDATE dispatch.transfer_log SET record_count = 0")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("DELETE FROM dispatch.transfer_log")
    finally:
        await conn.close()
