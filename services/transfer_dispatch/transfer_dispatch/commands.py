"""Operator commands of transfer_dispatch: the monthly batches, the 老齢福祉年金 list import, the log verifier.

Each works on the service's own database role (``DATABASE_URL``); the relay of the running service
publishes what a batch wrote to the outbox.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from .adapters.repository import DispatchRepository
from .domain.policy import PolicyBook
from .domain.transfer_log import ChainBreak, verify_against_batches, verify_chain
from .domain.welfare_pension import parse_recipient_list
from .handlers import BatchResult, run_monthly
from .jps.adapters.repository import JpsRepository


async def monthly(conn: asyncpg.Connection, book: PolicyBook, recipient: str, month: str) -> BatchResult:
    """``transfer-dispatch monthly --recipient child_allowance --month 2026-10``."""
    return await run_monthly(conn, book, recipient, month)


@dataclass(frozen=True)
class ImportResult:
    file_sha256: str
    recipients: int
    already_imported: bool


async def import_welfare_pension(conn: asyncpg.Connection, path: Path) -> ImportResult:
    """Import a 老齢福祉年金受給者一覧 (CSV, UTF-8); the same file twice is a no-op."""
    data = await asyncio.to_thread(path.read_bytes)
    digest = hashlib.sha256(data).hexdigest()
    recipients = parse_recipient_list(data.decode("utf-8"))
    async with conn.transaction():
        repo = DispatchRepository(conn)
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('dispatch.welfare_pension_import'))")
        if await repo.welfare_import_seen(digest):
            return ImportResult(digest, len(recipients), already_imported=True)
        await repo.import_welfare_recipients(digest, path.name, [r.row() for r in recipients])
    return ImportResult(digest, len(recipients), already_imported=False)


@dataclass(frozen=True)
class LogReport:
    entries: int
    batches: int
    breaks: list[ChainBreak]


async def verify_log(conn: asyncpg.Connection) -> LogReport:
    """Check the hash chain of 提供・移転の記録 and that every batch sent has its entry."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        repo = DispatchRepository(conn)
        entries = await repo.log_entries()
        batches = await repo.batches() + await JpsRepository(conn).sent_batches()  # 提供1 batches too
    breaks = verify_chain(entries) + verify_against_batches(entries, batches)
    return LogReport(len(entries), len(batches), breaks)
