#!/usr/bin/env python3
"""Simulate GPU placement policies on one pool and print the figures the README quotes.

    .venv/bin/python scripts/sim_placement.py    # 4 hosts x 8 GPUs, load 0.95, seeds 1-3
    .venv/bin/python scripts/sim_placement.py --jobs 500 --seeds 7 --policies easy greedy

Policies: easy (app.scheduler.policy.plan: best-fit aligned blocks + EASY backfill), greedy
(start whatever fits now, no reservation), static (fixed 4+2+1+1-GPU slots per host). Waits are
in hours; utilisation is measured over the arrival window (see app/scheduler/stats.py)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.scheduler.simulate import POLICIES, make_trace, simulate  # noqa: E402

COLUMNS = (("seed", "seed"), ("policy", "policy"), ("util_backlog", "util while backlog"),
           ("util", "util"), ("wait8_max_h", "8-GPU max wait h"),
           ("wait1_mean_h", "1-GPU mean wait h"), ("dropped", "dropped"))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    rows = []
    for seed in args.seeds:
        trace = make_trace(seed, args.hosts, args.gpus, args.load, args.jobs)
        for policy in args.policies:
            result = simulate(trace, args.hosts, args.gpus, policy)
            rows.append({"seed": seed, "policy": policy, **result.figures()})
    print(json.dumps(rows, indent=1) if args.json else _table(rows))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--jobs", type=int, default=3000, help="jobs per trace (default 3000)")
    parser.add_argument("--hosts", type=int, default=4)
    parser.add_argument("--gpus", type=int, default=8, help="GPUs per host (default 8)")
    parser.add_argument("--load", type=float, default=0.95, help="offered share of GPU capacity")
    parser.add_argument("--policies", nargs="+", choices=sorted(POLICIES),
                        default=["easy", "greedy", "static"])
    parser.add_argument("--json", action="store_true", help="print JSON rows instead of a table")
    return parser


def _table(rows: list[dict]) -> str:
    cells = [[title for _, title in COLUMNS]]
    cells += [["-" if row[key] is None else str(row[key]) for key, _ in COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in cells]
    return "\n".join([lines[0], "-+-".join("-" * w for w in widths), *lines[1:]])


if __name__ == "__main__":
    sys.exit(main())
