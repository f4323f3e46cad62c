"""make restore-drill: back up, keep writing, lose the primary, restore a new cluster to a point in time, rewind the
consumer groups to it, restart the services; they end equal to the run never restored (kokunen_testing/restore_drill.py,
ADR 0013, docs/runbook-restore.md).

    make restore-drill                      # 1,000 people: ~2,250 resident changes + 1,000 assessments
    DRILL_PEOPLE=300 make restore-drill     # quicker

Starts its own Kafka (deploy/local/localstack.py) and a durable, archiving PostgreSQL; prints the figures (RPO, RTO),
writes out/restore-drill.json and exits 1 unless the restored run equals the reference with 0 lost and 0 doubled.
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

from kokunen_testing.infra import load_localstack  # noqa: E402
from kokunen_testing.restore_drill import run_drill  # noqa: E402


async def main() -> int:
    people = int(os.environ.get("DRILL_PEOPLE", "1000"))
    workdir = Path(tempfile.mkdtemp(prefix="kokunen-restore-drill-"))
    print(f"restore drill: {people} people; work folder {workdir} (service logs in logs/)", flush=True)
    localstack = load_localstack()
    kafka = localstack.start_kafka(workdir / "kafka")
    try:
        report = await run_drill(kafka.bootstrap, workdir, people, say=lambda line: print(line, flush=True))
    finally:
        kafka.stop()
    print("\n" + report.summary())
    out = HERE.parent.parent / "out"
    out.mkdir(exist_ok=True)
    figures = {k: v for k, v in report.__dict__.items()}
    figures["rto_s"] = round(report.rto_s, 1)
    (out / "restore-drill.json").write_text(json.dumps(figures, ensure_ascii=False, indent=2, default=str) + "\n")
    if not report.ok:
        print(f"make restore-drill: FAILED (work folder {workdir})")
        return 1
    print("make restore-drill: restored run equal to the reference; 0 lost, 0 doubled")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
