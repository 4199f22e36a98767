"""Exactly one start per attempt, whatever the broker re-delivers."""
from __future__ import annotations

import re
import time

import pytest
import redis as redis_lib

from config.celery import declared_queue
from config.queues import RUN_JOB_TASK, host_queue
from workers import allocations
from config.settings import Settings
from tests.faults.conftest import VISIBILITY_TIMEOUT, runs, wait_until
from workers.celery_app import make_celery

pytestmark = pytest.mark.faults


def test_job_three_times_longer_than_the_visibility_timeout_runs_once(fault_api, fault_stack,
                                                                      marker):
    seconds = 3 * VISIBILITY_TIMEOUT + 1
    job_id = fault_api.submit_ok(script_path="marked_run.py", args=[str(marker), str(seconds)])
    job = fault_api.wait_terminal(job_id, timeout=seconds + 30)
    assert job["status"] == "completed"
    assert runs(marker, job_id) == [1] and runs(marker, job_id, "end") == [1]
    # The broker did re-deliver the running job's message; the claim turned it away: as a second
    # delivery while it ran (a host with a free slot), or as fenced once its GPUs were given back
    # (a one-slot host takes the copy only after the job ended, so it may still be on its way).
    turned_away = re.compile(f"{job_id} attempt 1 skipped: (already claimed|the scheduler no "
                             "longer places it here)")
    logs = lambda: "".join(fault_stack.services[n].log() for n in ("w1", "w2"))  # noqa: E731
    wait_until(lambda: turned_away.search(logs()), timeout=VISIBILITY_TIMEOUT + 10)
    assert runs(marker, job_id) == [1]


def test_republished_duplicate_message_is_dropped(fault_api, fault_stack, fault_env, marker):
    """The exact message the scheduler sent (same allocation), sent again to the same host."""
    job_id = fault_api.submit_ok(script_path="marked_run.py", args=[str(marker), "3"])
    fault_api.wait_status(job_id, "training")
    redis = redis_lib.Redis.from_url(fault_env["TRAINQ_REDIS_URL"], decode_responses=True)
    allocation = allocations.current(redis, job_id, 1)
    queue = declared_queue(host_queue(allocation.instances[0].host))
    celery = make_celery(Settings.from_env(fault_env))
    spec = {"script_path": "marked_run.py", "args": [str(marker), "3"], "envs": {},
            "framework": "pytorch", "dataset_id": None, "max_running_time_ms": None,
            "cpu": 1, "memory": 1 << 30, "gpu": 0}
    for _ in range(2):  # one while it runs, one after it finished
        celery.send_task(RUN_JOB_TASK, kwargs={"job_id": job_id, "attempt": 1, "spec": spec,
                                               "allocation": allocation.to_wire()},
                         queue=queue, declare=[queue])
        if fault_api.job(job_id)["status"] == "training":
            fault_api.wait_terminal(job_id)
    logs = lambda: fault_stack.services[allocation.instances[0].host].log()  # noqa: E731
    deadline = time.monotonic() + 20
    while logs().count(f"{job_id} attempt 1 skipped") < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert logs().count(f"{job_id} attempt 1 skipped") == 2, logs()[-2000:]
    assert fault_api.job(job_id)["status"] == "completed"
    assert runs(marker, job_id) == [1]
