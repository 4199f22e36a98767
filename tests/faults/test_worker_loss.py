"""Worker loss: the script dies with its worker, the job is retried as a new attempt or failed."""
from __future__ import annotations

import json
import os
import signal
import time

import pytest

from config.keys import host_jobs_key
from tests.faults.conftest import FIGURES, LEASE_SECONDS, REAPER_SECONDS, runs, wait_until
from tests.support.processes import alive

pytestmark = pytest.mark.faults


def _script_pid(settings_env, job_id: str, attempt: int) -> int:
    path = os.path.join(settings_env["TRAINQ_VAR_DIR"], "jobs", job_id, "output",
                        f"pids-{attempt}.json")
    wait_until(lambda: os.path.exists(path) and os.path.getsize(path) > 0, timeout=30)
    return json.load(open(path))["script"]


def _running_on(api, job_id: str) -> str:
    job = api.wait_status(job_id, "training", timeout=30)
    return job["attempts"][-1]["worker"].removesuffix("-local")


def test_sigkill_of_the_worker_retries_the_job_without_orphans(fault_api, fault_stack, fault_env,
                                                              fault_redis, marker):
    detections = []
    for _round in range(5):
        job_id = fault_api.submit_ok(script_path="marked_run.py", args=[str(marker), "120", "0.2"])
        worker = _running_on(fault_api, job_id)
        script = _script_pid(fault_env, job_id, 1)
        killed_at = time.monotonic()
        fault_stack.kill(worker)  # the whole worker: main process and pool child
        wait_until(lambda: not alive(script), timeout=5)
        wait_until(lambda: fault_api.job(job_id)["attempt"] == 2, timeout=LEASE_SECONDS + 10)
        detections.append(time.monotonic() - killed_at)
        # The lost host's slot is given back by the scheduler's sweep (nobody else could).
        wait_until(lambda: not fault_redis.client().hexists(host_jobs_key(worker), f"{job_id}|1"),
                   timeout=LEASE_SECONDS + 5)
        fault_stack.start(worker)
        job = fault_api.wait_terminal(job_id, timeout=60)
        assert job["status"] == "completed" and job["attempt"] == 2
        assert runs(marker, job_id) == [1, 2] and runs(marker, job_id, "end") == [2]
        lost = job["attempts"][0]
        assert lost["failure_class"] == "worker_lost" and "was lost" in lost["message"]
        assert [t["to_status"] for t in job["transitions"]] == \
            ["queued", "training", "queued", "training", "completed"]
    FIGURES["worker_kill_to_retry_seconds"] = [round(d, 2) for d in detections]
    assert max(detections) <= LEASE_SECONDS + REAPER_SECONDS + 2.5


def test_kill_of_the_pool_child_kills_the_script_and_retries(fault_api, fault_stack, fault_env,
                                                            marker):
    job_id = fault_api.submit_ok(script_path="marked_run.py", args=[str(marker), "120", "0.2"])
    worker = _running_on(fault_api, job_id)
    script = _script_pid(fault_env, job_id, 1)
    os.kill(fault_stack.pool_child(worker), signal.SIGKILL)  # what the OOM killer does
    wait_until(lambda: not alive(script), timeout=5)
    job = fault_api.wait_terminal(job_id, timeout=60)
    assert job["status"] == "completed" and runs(marker, job_id) == [1, 2]
    assert fault_stack.services[worker].proc.poll() is None  # the worker itself lived on


def test_poison_job_that_kills_its_worker_fails_after_its_retry_budget(fault_api, fault_stack):
    job_id = fault_api.submit_ok(script_path="kill_parent.py", fault_tolerance_max_retry=2)
    job = fault_api.wait_terminal(job_id, timeout=90)
    assert job["status"] == "failed" and job["attempt"] == 3
    assert "was lost" in job["failure_message"] and "no retries left" in job["failure_message"]
    assert [a["failure_class"] for a in job["attempts"]] == ["worker_lost"] * 3
    for name in ("w1", "w2"):
        assert fault_stack.services[name].proc.poll() is None


def test_without_fault_tolerance_a_lost_worker_fails_the_job(fault_api):
    job_id = fault_api.submit_ok(script_path="kill_parent.py", auto_fault_tolerance=False)
    job = fault_api.wait_terminal(job_id, timeout=60)
    assert job["status"] == "failed" and job["attempt"] == 1
    assert "auto_fault_tolerance=false" in job["failure_message"]


def test_worker_lost_between_claim_and_start_is_noticed(fault_api, fault_env, fault_redis, marker):
    """The worker claimed the attempt and died before its `started` event: the job is still
    `queued` in the database, its message is acknowledged nowhere. The claimed set finds it."""
    from datetime import timedelta

    from app.db import Database
    from app.models import Job
    from app.models.base import utcnow
    from app.services.transitions import record_creation
    from config.keys import CLAIMED_SET, claim_key, claimed_member, lease_key

    job_id = f"job-ghost{time.time_ns()}"
    db = Database(fault_env["TRAINQ_DATABASE_URL"])
    try:
        with db.write() as session:
            job = Job(id=job_id, name="ghost", framework="pytorch", script_path="marked_run.py",
                      args=[str(marker), "0.1"], envs={}, cpu=1, memory=1, gpu=0, priority=5,
                      pool="cpu", queue="train.cpu.p05", status="queued", attempt=1,
                      workspace_id=1, created_at=utcnow() - timedelta(seconds=60),
                      published_at=utcnow())
            session.add(job)
            session.flush()
            record_creation(session, job, "")
    finally:
        db.dispose()
    redis = fault_redis.client()
    server_now = int(redis.time()[0])
    redis.set(claim_key(job_id, 1), "ghost-worker")
    redis.set(lease_key(job_id, 1), f"ghost-worker|{server_now}")
    redis.zadd(CLAIMED_SET, {claimed_member(job_id, 1): server_now})
    job = fault_api.wait_terminal(job_id, timeout=LEASE_SECONDS + 30)
    assert job["status"] == "completed" and job["attempt"] == 2
    assert job["attempts"][0]["failure_class"] == "worker_lost"
    assert runs(marker, job_id) == [2]
