"""Stop racing completion: the first status the state machine accepted wins, webhooks agree."""
from __future__ import annotations

import random
import time

import pytest

pytestmark = pytest.mark.e2e
STATUS_TYPE = {"completed": 3, "cancelled": 5}


@pytest.mark.parametrize("seed", range(6))
def test_stop_at_a_random_moment_near_the_end(api, receiver, seed):
    rng = random.Random(seed)
    job_id = api.submit_ok(script_path="sleep_for.py", args=[f"{rng.uniform(0.1, 0.6):.2f}"])
    api.wait_status(job_id, {"training", "completed"})
    time.sleep(rng.uniform(0, 0.7))
    stop = api.request("POST", f"/api/v1/training/jobs/{job_id}/stop")
    assert stop.status_code in (200, 409)
    job = api.wait_terminal(job_id, timeout=30)
    assert job["status"] in STATUS_TYPE
    if stop.status_code == 409:
        assert job["status"] == "completed"
    assert [t["to_status"] for t in job["transitions"]] == ["queued", "training", job["status"]]
    receiver.wait_for(job_id, lambda got: len(got) >= 3)
    time.sleep(0.3)  # nothing may follow the final status
    types = [h["body"]["statusType"] for h in receiver.for_task(job_id)]
    assert types == [1, 2, STATUS_TYPE[job["status"]]]
