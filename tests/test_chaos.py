"""A short chaos run in ``make test`` (the long one is ``make chaos``): a seeded stream of resident changes and tax
assessments through every stream service, each service killed (SIGKILL) once mid-stream and restarted, the broker
restarted and PostgreSQL stopped for a few seconds; every effect reconciled: nothing lost, nothing doubled, lag 0.
See ``kokunen_testing.chaos``."""

from __future__ import annotations

from pathlib import Path

import pytest
from kokunen_testing.chaos import SERVICES, ChaosPlan, run_chaos
from kokunen_testing.platform import Platform

pytestmark = pytest.mark.integration

PLAN = ChaosPlan(
    people=150, seed=20261205, kills_per_service=1, database_outage_s=3.0, chunk=100, backlog=200, settle_timeout_s=420
)


async def test_kill_each_service_restart_the_broker_and_stop_the_database_mid_stream(
    platform: Platform, tmp_path: Path
) -> None:
    report = await run_chaos(platform, PLAN, tmp_path / "logs")
    print("\n" + report.summary())
    assert report.settled, f"the services did not catch up (logs in {report.log_dir}):\n{report.log_tails()}"
    assert report.kills == dict.fromkeys(SERVICES, 1)
    if platform.infra.source == "local":  # only a broker and database this session started can be stopped
        assert (report.broker_restarts, report.database_outages) == (1, 1)
    assert {name: counts for name, counts in report.checks.items() if counts != (0, 0)} == {}
    assert (report.lost, report.doubled, report.lag) == (0, 0, 0)
