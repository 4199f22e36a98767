#!/usr/bin/env python3
"""The scale run: N trivial jobs drained through H real worker hosts, none lost or run twice.

    .venv/bin/python scripts/scale_run.py                 # 10,000 jobs, 8 hosts (minutes)
    .venv/bin/python scripts/scale_run.py --jobs 500 --hosts 4

It starts the benchmark's stack (scripts/benchlib/stack.py: API, consumer, scheduler) with H
one-slot `cpu` hosts, each its own `trainq worker` process tree, on SQLite (or
--database-url) and Redis database 14 (FLUSHed before and after). Two measurements:

1. The drain: N jobs whose script appends its job id and attempt to a shared file (O_APPEND:
   one line each, atomically), submitted in batches to the `cpu` pool. Passes when every job
   is `completed` at attempt 1 and the file holds every job id exactly once.
2. Then Redis memory per queued job: N jobs submitted in batches to the `idle` pool (no host,
   so they stay queued and the scheduler plans them every cycle), `used_memory` before and
   after the scheduler published their queue positions, divided by N."""
from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.benchlib.batch import BATCH  # noqa: E402
from scripts.benchlib.stack import DEFAULT_REDIS_URL, progress, running_stack  # noqa: E402
from tests.support.client import VALID_JOB  # noqa: E402

MARK_SCRIPT = "scale_mark.py"
MARK_TEXT = (
    "import os\n"
    "line = f\"{os.environ['TRAINQ_JOB_ID']} {os.environ['TRAINQ_ATTEMPT']}\\n\".encode()\n"
    "fd = os.open(os.environ['SCALE_MARKS'], os.O_WRONLY | os.O_APPEND | os.O_CREAT)\n"
    "os.write(fd, line)\n")


def submit_batches(client, total: int, job: dict) -> list[str]:
    ids = []
    for first in range(0, total, 1000):
        count = min(1000, total - first)
        response = client.request("POST", BATCH, json={"jobs": [job] * count})
        if response.status_code != 201:
            raise RuntimeError(f"batch failed: {response.status_code} {response.text[:300]}")
        ids += response.json()["data"]["job_ids"]
    return ids


def redis_per_queued_job(stack, total: int) -> dict:
    redis = stack.redis
    before = redis.info("memory")["used_memory"]
    submit_batches(stack.client(), total, {**VALID_JOB, "name": "scale idle",
                                           "script_path": MARK_SCRIPT, "gpu": 2})
    time.sleep(3)   # a few scheduler cycles: the queue board holds every job's position
    after = redis.info("memory")["used_memory"]
    return {"queued": total, "bytes_per_job": (after - before) / total}


def drain(stack, total: int, marks: Path, timeout: float) -> dict:
    client = stack.client()
    job = {**VALID_JOB, "name": "scale", "script_path": MARK_SCRIPT,
           "envs": {"SCALE_MARKS": str(marks)}}
    started = time.perf_counter()
    ids = submit_batches(client, total, job)
    submitted = time.perf_counter() - started
    done = wait_all_completed(client, len(ids), timeout)
    elapsed = time.perf_counter() - started
    lines = Counter(marks.read_text().split("\n")[:-1]) if marks.exists() else Counter()
    runs = Counter(line.split()[0] for line in lines.elements())
    return {"jobs": total, "submit_seconds": submitted, "drain_seconds": elapsed,
            "jobs_per_second": total / elapsed, "completed": done,
            "never_ran": sum(1 for job_id in ids if job_id not in runs),
            "ran_twice": sum(1 for n in runs.values() if n > 1),
            "retried": sum(1 for line in lines if not line.endswith(" 1"))}


def wait_all_completed(client, total: int, timeout: float) -> int:
    deadline, completed = time.monotonic() + timeout, 0
    while time.monotonic() < deadline:
        page = client.request("GET", "/api/v1/training/jobs",
                              params={"status": "completed", "page_size": 1}).json()["data"]
        completed = page["pagination"]["total"]
        if completed >= total:
            return completed
        progress(f"{completed} of {total} completed")
        time.sleep(5)
    return completed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=8)
    parser.add_argument("--database-url")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--api-workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args(argv)
    with running_stack(args) as stack:
        (stack.script_root / MARK_SCRIPT).write_text(MARK_TEXT)
        result = drain(stack, args.jobs, stack.script_root.parent / "marks.txt", args.timeout)
        # Afterwards: a backlog of idle jobs would make every placer cycle of the drain plan it.
        memory = redis_per_queued_job(stack, args.jobs)
        progress(f"Redis: {memory['bytes_per_job']:.0f} bytes per queued job")
    print(f"\n{args.jobs} jobs through {args.hosts} worker hosts: {result}\nRedis: {memory}")
    ok = (result["completed"] >= args.jobs and not result["never_ran"]
          and not result["ran_twice"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
