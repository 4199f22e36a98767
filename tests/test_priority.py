"""Priority within a pool: on a busy slot, a later job with higher priority starts first."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_higher_priority_submitted_later_starts_first(api, release_dir):
    blocker = api.submit_ok(script_path="wait_for_file.py", gpu=1, priority=5,
                            args=[str(release_dir / "go"), "60"])
    api.wait_status(blocker, "training")
    low = [api.submit_ok(script_path="show_env.py", gpu=1, priority=p) for p in (1, 3)]
    high = api.submit_ok(script_path="show_env.py", gpu=1, priority=9)
    same_as_low = api.submit_ok(script_path="show_env.py", gpu=1, priority=3)
    (release_dir / "go").touch()
    jobs = {j: api.wait_terminal(j) for j in [*low, high, same_as_low]}
    order = sorted(jobs, key=lambda j: jobs[j]["started_at"])
    # highest first; FIFO among equal priority (low[1] before same_as_low); priority 1 last
    assert order == [high, low[1], same_as_low, low[0]]
    assert jobs[high]["queue"] == "train.gpu.p09"
