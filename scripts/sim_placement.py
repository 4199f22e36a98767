#!/usr/bin/env python3
"""Simulate GPU placement policies on one pool and print the figures the README quotes.

    .venv/bin/python scripts/sim_placement.py    # 4 hosts x 8 GPUs, load 0.95, seeds 1-3
    .venv/bin/python scripts/sim_placement.py --jobs 500 --seeds 7 --policies easy greedy
    .venv/bin/python scripts/sim_placement.py --fairness   # quotas: A 110 % vs B 15 %
    .venv/bin/python scripts/sim_placement.py --fairness --jobs 3700   # 200 h, as the research

Policies: easy (app.scheduler.policy.plan: best-fit aligned blocks + EASY backfill), greedy
(start whatever fits now, no reservation), static (fixed 4+2+1+1-GPU slots per host). Waits are
in hours; utilisation is measured over the arrival window (see app/scheduler/stats.py). The pool
starts empty: its first hours, idle for want of work under any policy, weigh on "util" in a short
trace ("util while jobs wait" leaves out the time nothing was pending)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.scheduler.simulate import (POLICIES, fairness_trace, make_trace,  # noqa: E402
                                    simulate)

COLUMNS = (("seed", "seed"), ("policy", "policy"), ("util_backlog", "util while backlog"),
           ("util", "util"), ("wait8_max_h", "8-GPU max wait h"),
           ("wait1_mean_h", "1-GPU mean wait h"), ("dropped", "dropped"))


FAIR_COLUMNS = (("seed", "seed"), ("policy", "policy"), ("util", "util"),
                ("util_backlog", "util while jobs wait"),
                ("a_max_h", "A max wait h"), ("b_mean_h", "B mean wait h"),
                ("b_max_h", "B max wait h"), ("peak_within", "most GPUs held within quota"))
FAIR_QUOTAS = {"A": 24, "B": 8}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.fairness:
        rows = [_fair_row(seed, quotas, args) for seed in args.seeds
                for quotas in (FAIR_QUOTAS, None)]
        print(json.dumps(rows, indent=1) if args.json else _table(rows, FAIR_COLUMNS))
        return 0
    rows = []
    for seed in args.seeds:
        trace = make_trace(seed, args.hosts, args.gpus, args.load, args.jobs)
        for policy in args.policies:
            result = simulate(trace, args.hosts, args.gpus, policy)
            rows.append({"seed": seed, "policy": policy, **result.figures()})
    print(json.dumps(rows, indent=1) if args.json else _table(rows, COLUMNS))
    return 0


def _fair_row(seed: int, quotas: dict | None, args) -> dict:
    """Workspace A offers 110 % at priority 8, B 15 % at priority 2 (sizes 1/2/4)."""
    trace = fairness_trace(seed, args.hosts, args.gpus, jobs_a=args.jobs)
    result = simulate(trace, args.hosts, args.gpus, "easy", quotas=quotas)
    waits = result.workspace_waits
    return {"seed": seed, "policy": "quotas 24/8 + borrowing" if quotas else "strict priority",
            "util": round(result.util, 3), "util_backlog": round(result.util_backlog, 3),
            "a_max_h": round(waits["A"][2] / 3600, 1),
            "b_mean_h": round(waits["B"][1] / 3600, 1), "b_max_h": round(waits["B"][2] / 3600, 1),
            "peak_within": result.peak_within or "-"}


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
    parser.add_argument("--fairness", action="store_true", help="the quota scenario instead: "
                        "--jobs is then workspace A's job count")
    return parser


def _table(rows: list[dict], columns) -> str:
    cells = [[title for _, title in columns]]
    cells += [["-" if row[key] is None else str(row[key]) for key, _ in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in cells]
    return "\n".join([lines[0], "-+-".join("-" * w for w in widths), *lines[1:]])


if __name__ == "__main__":
    sys.exit(main())
