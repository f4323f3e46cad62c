"""Annual resident-tax files (所得情報 CSV) for tests and the benchmark: written line by line, so that a
million rows never sit in memory."""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from tax_sync.domain.fields import JAPANESE


def record(atena: str, income_year: int = 2025, seq: int = 0, **overrides: Any) -> dict[str, Any]:
    from .factories import income_assessed

    return income_assessed(atena, income_year, seq, **overrides).model_dump()


def write_file(path: Path, lines: Iterable[str], *, encoding: str = "utf-8", header: Iterable[str] = JAPANESE) -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        f.write(",".join(header) + "\r\n")
        for line in lines:
            f.write(line + "\r\n")
    return path


def synthetic_lines(
    count: int, *, first_atena: int = 7_000_000_000, income_year: int = 2025, seed: int = 4
) -> Iterator[str]:
    """``count`` plausible first assessments (当初賦課), one per person, cheap to generate."""
    rng = random.Random(seed)
    tax_year = income_year + 1
    for n in range(count):
        income = rng.randrange(0, 8_000_000, 1000)
        pension = rng.choice((0, 0, 0, rng.randrange(600_000, 3_000_000, 1000)))
        general = rng.randrange(3)
        aged_16_to_18 = rng.choice(("", str(rng.randrange(general + 1))))  # of the 一般扶養; empty: not given
        yield (
            f"{first_atena + n},{tax_year},{income_year},{tax_year}-06-10,0,"
            f"{general},{rng.randrange(2)},{rng.randrange(2)},{rng.randrange(3)},0,0,{rng.randrange(3)},"
            f"0,0,0,{int(rng.random() < 0.03)},{int(income < 450_000)},"
            f"{pension},{max(0, pension - 1_100_000)},{income},0,0,{rng.randrange(0, 200_000, 1000)},"
            f"{income // 7},0,{rng.choice((0, 0, 0, 240_000))},{aged_16_to_18}"
        )
