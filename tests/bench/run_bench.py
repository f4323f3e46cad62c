"""make bench: each scenario's throughput beside a raw baseline measured in the same run.

    make bench                         # every scenario at full scale
    BENCH_SCALE=0.1 make bench         # a tenth of the data (quick look)
    BENCH_ONLY=residency-stream make bench
    BENCH_ONLY=tax-annual BENCH_TAX_ROWS=100000 BENCH_TAX_EVENTS=10000 make bench   # a quick tax run
    BENCH_ONLY=residency-full-load BENCH_FULL_LOAD_RESIDENTS=100000 make bench   # one scenario, a set size

Figures go to stdout as a table and to out/bench.json.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import pkgutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

from harness import SCENARIOS, BenchContext, Figure  # noqa: E402
from kokunen_testing.infra import acquire_infra  # noqa: E402
from kokunen_testing.platform import prepare_platform  # noqa: E402


def load_scenarios() -> None:
    for module in pkgutil.iter_modules([str(HERE / "scenarios")]):
        importlib.import_module(f"scenarios.{module.name}")


def render(figures: list[Figure]) -> str:
    lines = [
        f"{'scenario':<22} {'what':<34} {'count':>9} {'s':>7} {'per s':>9} │ {'baseline':<30} {'per s':>9} "
        f"{'ratio':>6} {'RSS MB':>7}  target"
    ]
    for f in figures:
        base_rate = f.baseline_rate
        lines.append(
            f"{f.scenario:<22} {f.what:<34} {f.count:>9} {f.seconds:>7.1f} {f.rate:>9.0f} │ "
            f"{(f.baseline or '—'):<30} {(f'{base_rate:.0f}' if base_rate else '—'):>9} "
            f"{(f'{f.ratio:.0%}' if f.ratio else '—'):>6} {(f'{f.rss_mb:.0f}' if f.rss_mb else '—'):>7}  "
            f"{f.target or ''}"
        )
    return "\n".join(lines)


async def main() -> int:
    load_scenarios()
    only = {s for s in os.environ.get("BENCH_ONLY", "").split(",") if s}
    unknown = only - set(SCENARIOS)
    if unknown:
        print(f"unknown scenario(s) {sorted(unknown)}; known: {sorted(SCENARIOS)}", file=sys.stderr)
        return 2
    scale = float(os.environ.get("BENCH_SCALE", "1"))
    figures: list[Figure] = []
    with acquire_infra(statement_stats=True) as infra:
        platform = await prepare_platform(infra)
        workdir = Path(tempfile.mkdtemp(prefix="kokunen-bench-"))
        print(f"servers: {infra.source} (Kafka {infra.facts.get('kafka_version', '?')}); work folder {workdir}")
        for name, run in sorted(SCENARIOS.items()):
            if only and name not in only:
                continue
            started = time.perf_counter()
            print(f"\n▶ {name} (scale {scale})", flush=True)
            result = await run(BenchContext(platform, workdir, scale))
            figures += result
            print(render(result), flush=True)
            for figure in result:
                if figure.notes:
                    print(f"  {figure.what}: {json.dumps(figure.notes, ensure_ascii=False, default=str)}")
            print(f"  ({time.perf_counter() - started:.0f} s)")
    print("\n" + render(figures))
    out = HERE.parent.parent / "out"
    out.mkdir(exist_ok=True)
    (out / "bench.json").write_text(
        json.dumps(
            [{**f.__dict__, "rate": f.rate, "baseline_rate": f.baseline_rate, "ratio": f.ratio} for f in figures],
            ensure_ascii=False,
            indent=2,
            default=str,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
