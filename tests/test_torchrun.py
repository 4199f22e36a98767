"""Launcher "torchrun": nproc_per_node processes with the standard torch.distributed environment
(gloo on CPU here), rank 0 reporting epochs; and nothing a script starts outlives its attempt,
not even processes in sessions of their own (torchrun's workers are)."""
from __future__ import annotations

import json
import pytest

from tests.faults.conftest import wait_until
from tests.support.processes import alive

pytestmark = pytest.mark.e2e


def _pids(settings, job_id: str, names) -> dict[str, int]:
    out = settings.work_dir / job_id / "output"
    wait_until(lambda: all((out / n).exists() and (out / n).read_text() for n in names),
               timeout=60)
    return {n: int((out / n).read_text()) for n in names}


def _logs(api, job_id: str) -> list[str]:
    return api.request("GET", f"/api/v1/training/jobs/{job_id}/logs",
                       params={"lines": 500}).json()["data"]["logs"]


def test_torchrun_runs_nproc_per_node_ranks_and_rank_0_reports(api):
    job_id = api.submit_ok(script_path="ddp_check.py", args=["3", "0.2"], launcher="torchrun",
                           nproc_per_node=2)
    job = api.wait_terminal(job_id, timeout=120)
    assert job["status"] == "completed", job["failure_message"]
    assert (job["launcher"], job["nproc_per_node"]) == ("torchrun", 2)
    metrics = api.request("GET", f"/api/v1/training/jobs/{job_id}/metrics").json()["data"][
        "metrics"]
    assert [m["epoch"] for m in metrics] == [1, 2, 3]
    assert all(m["extra"]["rank_sum"] == 1.0 for m in metrics)   # ranks 0 and 1 took part
    logs = _logs(api, job_id)
    assert any("rank 0 of 2 on cpu-test" in line for line in logs)
    assert any("rank 1 of 2 on cpu-test" in line for line in logs)


def test_stopping_a_torchrun_job_leaves_no_rank_alive(api, settings):
    job_id = api.submit_ok(script_path="ddp_check.py", args=["500", "0.2"], launcher="torchrun",
                           nproc_per_node=2)
    api.wait_status(job_id, "training", timeout=60)
    ranks = _pids(settings, job_id, ("pid-rank0", "pid-rank1"))
    assert all(alive(pid) for pid in ranks.values())
    api.request("POST", f"/api/v1/training/jobs/{job_id}/stop")
    assert api.wait_terminal(job_id, timeout=60)["status"] == "cancelled"
    assert not any(alive(pid) for pid in ranks.values())


def test_a_child_in_a_session_of_its_own_dies_with_the_attempt(api, settings):
    """Out of the process group's reach, as torchrun's workers are: the worker finds it as a
    descendant (it is the subreaper of what its scripts orphan) and kills it."""
    job_id = api.submit_ok(script_path="process_family.py",
                           args=["--own-session", "--exit-after", "1"])
    job = api.wait_terminal(job_id, timeout=60)
    assert job["status"] == "completed"
    family = json.loads((settings.work_dir / job_id / "output" / "pids.json").read_text())
    assert family["pgid"] == family["script"]
    wait_until(lambda: not alive(family["child"]), timeout=5)


@pytest.mark.parametrize("body, field, words", [
    ({"nproc_per_node": 2}, "nproc_per_node", "needs \"launcher\": \"torchrun\""),
    ({"launcher": "torchrun", "framework": "tensorflow"}, "launcher", "torchrun launches PyTorch"),
    ({"launcher": "mpirun"}, "launcher", "must be 'python'"),
    ({"launcher": "torchrun", "nproc_per_node": 0}, "nproc_per_node", "must be 1 to 64"),
    ({"instance_count": 2, "launcher": "python"}, "launcher", "run under torchrun"),
    ({"instance_count": 0}, "instance_count", "must be 1 to 64 instances"),
    ({"instance_count": 65}, "instance_count", "must be 1 to 64 instances"),
    ({"instance_count": "2"}, "instance_count", "must be a whole number"),
])
def test_launcher_mistakes_are_refused_with_what_to_do(api, body, field, words):
    response = api.submit(**body)
    assert response.status_code == 400
    assert words in " ".join(response.json()["errors"][field])


def test_a_multi_host_pytorch_job_runs_under_torchrun_and_says_it_needs_two_hosts(api):
    """The test stack has one host: the job waits, and its queue position says why."""
    job_id = api.submit_ok(instance_count=2)
    try:
        job = api.job(job_id)
        assert (job["instance_count"], job["launcher"]) == (2, "torchrun")
        def planned():
            return api.request("GET", f"/api/v1/training/jobs/{job_id}/queue").json()["data"]
        seen = []   # what the queue said instead, shown if it never says too_big
        try:
            wait_until(lambda: seen.append(planned()) or seen[-1]["reason"] == "too_big",
                       timeout=30)
        except AssertionError:
            raise AssertionError(f"the queue never said too_big: {seen[-3:]}") from None
        assert "needs 2 hosts" in planned()["message"]
    finally:
        api.request("POST", f"/api/v1/training/jobs/{job_id}/stop")
    assert api.wait_terminal(job_id)["status"] == "cancelled"
