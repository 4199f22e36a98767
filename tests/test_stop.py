"""Stopping jobs: queued ones never start, running ones lose their whole process group."""
from __future__ import annotations

import json
import time

import pytest

from tests.support.processes import alive

pytestmark = pytest.mark.e2e


def _stop(api, job_id):
    return api.request("POST", f"/api/v1/training/jobs/{job_id}/stop")


def _family(settings, job_id, timeout=30) -> dict:
    path = settings.work_dir / job_id / "output" / "pids.json"
    deadline = time.monotonic() + timeout
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.1)
    return json.loads(path.read_text())


def test_stop_queued_job_cancels_at_once(api, receiver):
    job_id = api.submit_ok(gpu=2)  # the idle pool has no worker: stays queued
    response = _stop(api, job_id)
    assert response.status_code == 200
    assert response.json()["data"] == {"job_id": job_id, "status": "cancelled"}
    job = api.job(job_id)
    assert job["status"] == "cancelled" and job["timeline"]["finished"]
    hooks = receiver.wait_for(job_id, lambda got: len(got) == 2)
    assert [h["body"]["statusType"] for h in hooks] == [1, 5]
    assert "before it started" in hooks[1]["body"]["failureMessage"]


def test_stopped_queued_job_never_starts_when_a_slot_frees(api, release_dir, settings):
    blocker = api.submit_ok(script_path="wait_for_file.py", gpu=1,
                            args=[str(release_dir / "go"), "60"])
    api.wait_status(blocker, "training")
    victim = api.submit_ok(script_path="show_env.py", gpu=1)
    assert _stop(api, victim).json()["data"]["status"] == "cancelled"
    after = api.submit_ok(script_path="show_env.py", gpu=1)
    (release_dir / "go").touch()
    assert api.wait_terminal(after)["status"] == "completed"  # the slot went past the victim
    job = api.job(victim)
    assert job["status"] == "cancelled" and job["attempts"] == [] and job["started_at"] is None
    assert not (settings.work_dir / victim).exists()


@pytest.mark.parametrize("ignore_term", [False, True], ids=["exits-on-sigterm", "needs-sigkill"])
def test_stop_running_job_kills_its_process_group(api, receiver, settings, ignore_term):
    args = ["--ignore-term"] if ignore_term else []
    job_id = api.submit_ok(script_path="process_family.py", args=args)
    api.wait_status(job_id, "training")
    family = _family(settings, job_id)
    assert alive(family["script"]) and alive(family["child"])
    asked = time.monotonic()
    response = _stop(api, job_id)
    assert response.status_code == 200 and "stopping" in response.json()["message"]
    job = api.wait_terminal(job_id, timeout=30)
    took = time.monotonic() - asked
    assert job["status"] == "cancelled"
    assert job["failure_message"] == "stopped by request while training"
    assert not alive(family["script"]) and not alive(family["child"])
    if ignore_term:
        assert took >= settings.stop_grace_seconds  # waited out the grace, then SIGKILL
    hooks = receiver.wait_for(job_id, lambda got: 5 in [h["body"].get("statusType") for h in got])
    assert [h["body"]["statusType"] for h in hooks] == [1, 2, 5]


def test_stop_finished_job_is_a_conflict(api):
    job_id = api.submit_ok(script_path="show_env.py")
    api.wait_terminal(job_id)
    response = _stop(api, job_id)
    assert response.status_code == 409
    assert "already completed" in response.json()["message"]


def test_time_limit_stops_the_job_and_fails_it_naming_the_limit(api, settings, receiver):
    job_id = api.submit_ok(script_path="process_family.py", max_running_time_ms=1500)
    api.wait_status(job_id, "training")
    family = _family(settings, job_id)
    job = api.wait_terminal(job_id, timeout=30)
    assert job["status"] == "failed"
    assert "time limit" in job["failure_message"] and "max_running_time_ms=1500" in \
        job["failure_message"]
    assert job["attempts"][0]["failure_class"] == "timeout"
    assert not alive(family["script"]) and not alive(family["child"])
    hooks = receiver.wait_for(job_id, lambda got: 4 in [h["body"].get("statusType") for h in got])
    assert "max_running_time_ms=1500" in hooks[-1]["body"]["failureMessage"]
