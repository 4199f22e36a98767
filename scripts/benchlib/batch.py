"""Batch submission: jobs per second through POST /api/v1/training/jobs/batch."""
from __future__ import annotations

import time

from tests.support.client import VALID_JOB, ApiClient

BATCH = "/api/v1/training/jobs/batch"


def batch_rate(client: ApiClient, total: int, size: int = 1000) -> dict:
    """`total` jobs for the `idle` pool (never run) in requests of `size`, one after another."""
    job = {**VALID_JOB, "name": "bench sweep", "script_path": "bench_hello.py", "gpu": 2}
    latencies = []
    started = time.perf_counter()
    for first in range(0, total, size):
        count = min(size, total - first)
        sent = time.perf_counter()
        response = client.request("POST", BATCH, json={"jobs": [job] * count})
        if response.status_code != 201:
            raise RuntimeError(f"batch failed: {response.status_code} {response.text[:300]}")
        latencies.append(time.perf_counter() - sent)
    elapsed = time.perf_counter() - started
    return {"jobs": total, "size": size, "seconds": elapsed, "per_second": total / elapsed,
            "request_max_ms": max(latencies) * 1000}
