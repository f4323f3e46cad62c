"""Fixtures of eligibility's service tests: one eligibility service on the real broker and database, shared by
every module of this folder (starting it — nine subscriptions joining one consumer group — is the slow part;
the tests use persons of their own, so none needs a fresh service)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from eligibility.app import build
from kokunen_testing.platform import Platform


@pytest.fixture(scope="package")
async def eligibility(platform: Platform) -> AsyncIterator[None]:
    """eligibility consuming every topic it reads (consumers and outbox relay running, no calendar job: the
    tests drive the calendar themselves); stopped after this folder's last test."""
    async with build(platform.settings("eligibility"), with_calendar=False):
        yield
