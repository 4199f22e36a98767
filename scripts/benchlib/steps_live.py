"""Per-step metrics from many jobs at once, end to end: J jobs on a J-slot host each print S
`##trainq {"step": …}` lines as fast as they can; from the first script's first line until
the metrics route says every job has all S steps. Floor: raw single-client XADD per second
(the bench's c. floor). None may be lost or doubled: each job's steps_total must be exactly S
and its curve at ?points=S must list steps 0…S-1 once each."""
from __future__ import annotations

import time

from scripts.benchlib.client import get, log_lines, poll
from tests.support.client import VALID_JOB

POOL = "steps"
SCRIPT = "bench_steps.py"  # written by stack.prepare_scripts


def step_rate(client, jobs: int, steps: int) -> dict:
    job = {**VALID_JOB, "name": "bench steps", "script_path": SCRIPT, "args": [str(steps)],
           "pool": POOL}
    response = client.request("POST", "/api/v1/training/jobs/batch", json={"jobs": [job] * jobs})
    if response.status_code != 201:
        raise RuntimeError(f"batch failed: {response.status_code} {response.text[:300]}")
    ids = response.json()["data"]["job_ids"]
    for job_id in ids:
        poll(lambda: get(client, f"{job_id}/metrics", points=1)["steps_total"],
             lambda total: total >= steps, timeout=300, interval=0.05)
    all_seen = time.time()
    first = min(_first_line(client, job_id) for job_id in ids)
    lost, doubled = _check_curves(client, ids, steps)
    return {"jobs": jobs, "steps": steps, "seconds": all_seen - first,
            "per_second": jobs * steps / (all_seen - first), "lost": lost, "doubled": doubled}


def _first_line(client, job_id: str) -> float:
    lines, _ = poll(lambda: log_lines(client, job_id), lambda found: bool(found), timeout=60)
    return float(lines[0])


def _check_curves(client, ids: list[str], steps: int) -> tuple[int, int]:
    lost = doubled = 0
    for job_id in ids:
        data = get(client, f"{job_id}/metrics", points=min(steps, 10_000))
        seen = [point["step"] for point in data["steps"]]
        lost += steps - len(set(seen)) if data["steps_total"] == steps else steps
        doubled += len(seen) - len(set(seen))
    return lost, doubled
