"""Exactly one start per attempt, whatever the broker re-delivers."""
from __future__ import annotations

import time

import pytest

from config.queues import RUN_JOB_TASK
from config.settings import Settings
from tests.faults.conftest import VISIBILITY_TIMEOUT, runs
from workers.celery_app import make_celery

pytestmark = pytest.mark.faults


def test_job_three_times_longer_than_the_visibility_timeout_runs_once(fault_api, fault_stack,
                                                                      marker):
    seconds = 3 * VISIBILITY_TIMEOUT + 1
    job_id = fault_api.submit_ok(script_path="marked_run.py", args=[str(marker), str(seconds)])
    job = fault_api.wait_terminal(job_id, timeout=seconds + 30)
    assert job["status"] == "completed"
    assert runs(marker, job_id) == [1] and runs(marker, job_id, "end") == [1]
    logs = "".join(fault_stack.services[n].log() for n in ("w1", "w2"))
    # The broker did re-deliver the running job's message; the claim turned it away.
    assert f"{job_id} attempt 1 skipped: already claimed" in logs


def test_republished_duplicate_message_is_dropped(fault_api, fault_stack, fault_env, marker):
    job_id = fault_api.submit_ok(script_path="marked_run.py", args=[str(marker), "3"])
    job = fault_api.wait_status(job_id, "training")
    celery = make_celery(Settings.from_env(fault_env))
    spec = {"script_path": "marked_run.py", "args": [str(marker), "3"], "envs": {},
            "framework": "pytorch", "dataset_id": None, "max_running_time_ms": None,
            "cpu": 1, "memory": 1 << 30, "gpu": 0}
    for _ in range(2):  # one while it runs, one after it finished
        celery.send_task(RUN_JOB_TASK, kwargs={"job_id": job_id, "attempt": 1, "spec": spec},
                         queue=job["queue"])
        if fault_api.job(job_id)["status"] == "training":
            fault_api.wait_terminal(job_id)
    time.sleep(2)
    assert fault_api.job(job_id)["status"] == "completed"
    assert runs(marker, job_id) == [1]
