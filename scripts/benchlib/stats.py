"""Nearest-rank percentiles in milliseconds, the one way every bench figure is summarised."""
from __future__ import annotations

import math


def percentiles_ms(name: str, seconds: list[float], quantiles=(50, 95, 99)) -> dict:
    """{"<name>_p50_ms": …, …, "<name>_max_ms": …} of durations given in seconds."""
    ordered = sorted(seconds)

    def rank(q: float) -> float:
        return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)] * 1000
    return {**{f"{name}_p{q}_ms": rank(q) for q in quantiles}, f"{name}_max_ms": ordered[-1] * 1000}
