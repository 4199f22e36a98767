#!/usr/bin/env python3
"""Draw one host's GPUs over time from a placement record (one JSON line per job: job, host,
gpus, start, end; tests/scripts/gpu_record.py writes them): a row per GPU, a column per time
step, the same letter for every GPU of one job, '.' for idle.

    python scripts/host_timeline.py var/placement-live.jsonl pa --seconds 40 --width 80"""
from __future__ import annotations

import argparse
import json
import string
from pathlib import Path

LETTERS = string.ascii_uppercase + string.ascii_lowercase + string.digits


def timeline(records: list[dict], host: str, seconds: float, width: int) -> list[str]:
    mine = sorted((r for r in records if r["host"] == host), key=lambda r: r["start"])
    if not mine:
        raise SystemExit(f"no job ran on host {host!r} in this record")
    t0 = min(r["start"] for r in records)
    step = seconds / width
    gpus = sorted({g for r in mine for g in r["gpus"].split(",")}, key=int)
    rows = {gpu: ["."] * width for gpu in gpus}
    for index, record in enumerate(mine):
        first, last = int((record["start"] - t0) / step), int((record["end"] - t0) / step)
        for gpu in record["gpus"].split(","):
            for column in range(max(0, first), min(width, last + 1)):
                rows[gpu][column] = LETTERS[index % len(LETTERS)]
    ruler = "".join("|" if c % 10 == 0 else " " for c in range(width))
    return [f"GPU {gpu:>2} {''.join(row)}" for gpu, row in rows.items()] + \
        [f"       {ruler}", f"       one column = {step:.2f} s; a letter = one job; '.' = idle"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("record", type=Path)
    parser.add_argument("host")
    parser.add_argument("--seconds", type=float, default=40.0, help="time span drawn")
    parser.add_argument("--width", type=int, default=80, help="columns")
    args = parser.parse_args()
    records = [json.loads(line) for line in args.record.read_text().splitlines() if line]
    print("\n".join(timeline(records, args.host, args.seconds, args.width)))


if __name__ == "__main__":
    main()
