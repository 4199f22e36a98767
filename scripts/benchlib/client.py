"""Talking to the benchmark's stack through the API, as a user's client does."""
from __future__ import annotations

import time

from scripts.benchlib.stack import POLL_SECONDS
from tests.support.client import TERMINAL, ApiClient



def submit(client: ApiClient, script: str, args=(), gpu: int = 0) -> str:
    response = client.submit(name=f"bench {script}", script_path=script, args=list(args), gpu=gpu)
    if response.status_code != 201:
        raise RuntimeError(f"submit failed: {response.status_code} {response.text[:300]}")
    return response.json()["data"]["job_id"]


def get(client: ApiClient, path: str, **params) -> dict:
    response = client.request("GET", "/api/v1/training/jobs/" + path, params=params)
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} failed: {response.status_code} {response.text[:300]}")
    return response.json()["data"]


def poll(fetch, done, timeout: float = 120, interval: float = POLL_SECONDS):
    """(value, time.time() of the answer) for the first fetch() that done() accepts."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value):
            return value, time.time()
        if time.monotonic() > deadline:
            raise TimeoutError(f"still waiting after {timeout}s; last answer: {value!r:.300}")
        time.sleep(interval)


def wait_status(client: ApiClient, job_id: str, statuses: set[str],
                interval: float = POLL_SECONDS) -> float:
    """time.time() at which GET first answered one of `statuses` (or any end status)."""
    job, seen = poll(lambda: get(client, job_id),
                     lambda j: j["status"] in statuses or j["status"] in TERMINAL,
                     interval=interval)
    if job["status"] not in statuses:
        raise RuntimeError(f"{job_id} ended {job['status']}: {job.get('failure_message')}")
    return seen


def log_lines(client: ApiClient, job_id: str) -> list[str]:
    return get(client, f"{job_id}/logs", lines=50)["logs"]
