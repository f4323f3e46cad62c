"""make chaos: a long stream through every stream service under faults, reconciled to 0 lost / 0 doubled.

    make chaos                                  # 10,000 people: ~22,500 resident changes + 10,000 assessments
    CHAOS_PEOPLE=2000 CHAOS_KILLS=2 make chaos  # smaller
    CHAOS_SEED=7 make chaos                     # another fault schedule and input

Starts its own Kafka and PostgreSQL (deploy/local/localstack.py), kills each service (SIGKILL) CHAOS_KILLS times
at random moments of its own work and restarts it, restarts the broker once and stops PostgreSQL for
CHAOS_OUTAGE_S seconds; then reconciles every effect with the input (kokunen_testing/chaos.py). Prints a summary,
writes out/chaos.json and exits 1 on anything lost or doubled, a lag left or a run that did not settle.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent)]

from kokunen_testing.chaos import ChaosPlan, run_chaos  # noqa: E402
from kokunen_testing.infra import acquire_infra  # noqa: E402
from kokunen_testing.platform import prepare_platform  # noqa: E402


def plan_from_environment() -> ChaosPlan:
    env = os.environ
    return ChaosPlan(
        people=int(env.get("CHAOS_PEOPLE", "10000")),
        seed=int(env.get("CHAOS_SEED", "13")),
        kills_per_service=int(env.get("CHAOS_KILLS", "3")),
        database_outage_s=float(env.get("CHAOS_OUTAGE_S", "10")),
    )


async def main() -> int:
    plan = plan_from_environment()
    with acquire_infra() as infra:
        platform = await prepare_platform(infra)
        logs = Path(tempfile.mkdtemp(prefix="kokunen-chaos-"))
        print(f"chaos: {plan}; servers: {infra.source}; service logs in {logs}", flush=True)
        report = await run_chaos(platform, plan, logs, say=lambda line: print(line, flush=True))
    print("\n" + report.summary())
    out = HERE.parent.parent / "out"
    out.mkdir(exist_ok=True)
    (out / "chaos.json").write_text(
        json.dumps(
            {
                "plan": plan.__dict__,
                "events": report.events,
                "kills": dict(report.kills),
                "unplanned_exits": dict(report.unplanned_exits),
                "broker_restarts": report.broker_restarts,
                "database_outages": report.database_outages,
                "lost": report.lost,
                "doubled": report.doubled,
                "lag": report.lag,
                "settled": report.settled,
                "seconds": round(report.seconds, 1),
                "checks": {name: {"lost": lost, "doubled": doubled} for name, (lost, doubled) in report.checks.items()},
            },
            ensure_ascii=False,
            indent=2,
        )
        + "\n"
    )
    if not report.ok:
        print(f"make chaos: FAILED (service logs in {logs})")
        return 1
    print("make chaos: 0 lost, 0 doubled")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
