"""Workspace GPU quotas with borrowing, in the pure policy and the simulator: the fairness
scenario of research/scheduling.md S5 (A offers 110 % of 32 GPUs at priority 8, B 15 % at
priority 2; quotas A 24, B 8)."""
from __future__ import annotations

import pytest

from app.scheduler.model import HostView, PendingJob, Reason, RunningJob
from app.scheduler.policy import plan
from app.scheduler.simulate import fairness_trace, simulate

QUOTAS = {"A": 24, "B": 8}
GPUS = tuple(str(i) for i in range(8))


def _job(job_id: str, workspace: str, priority: int, gpus: int = 1, at: float = 0.0):
    return PendingJob(job_id, workspace, priority, gpus, submitted_at=at)


def test_a_job_within_its_quota_goes_before_higher_priority_borrowers():
    host = HostView("h1", GPUS, frozenset(GPUS[6:]), 8, 2)
    running = [RunningJob("a-run", {"h1": GPUS[:6]}, None, "A")]   # A holds 6 of its quota 4
    pending = [_job("a-next", "A", 9), _job("b-next", "B", 1, at=5.0)]
    decided = plan(10.0, [host], running, pending, quotas={"A": 4, "B": 4})
    assert [p.job_id for p in decided.placements] == ["b-next", "a-next"]
    assert decided.borrowing == {"a-next"}


def test_idle_gpus_are_lent_and_the_queue_says_why_a_borrower_waits():
    host = HostView("h1", GPUS, frozenset(GPUS[4:]), 8, 4)
    running = [RunningJob("a-run", {"h1": GPUS[:4]}, None, "A")]
    pending = [_job("a-borrows", "A", 5, gpus=4), _job("a-waits", "A", 5, gpus=4, at=1.0)]
    decided = plan(10.0, [host], running, pending, quotas={"A": 4})
    assert [p.job_id for p in decided.placements] == ["a-borrows"]   # nobody else wants them
    (entry,) = decided.queue
    assert entry.job_id == "a-waits" and entry.reason == Reason.OVER_QUOTA


@pytest.fixture(scope="module")
def fairness():
    out = {}
    for seed in (1, 2):
        trace = fairness_trace(seed, 4, 8, jobs_a=1200)
        out[seed] = (simulate(trace, 4, 8, "easy", quotas=QUOTAS), simulate(trace, 4, 8, "easy"))
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_quotas_protect_the_small_workspace_without_idling_the_pool(fairness, seed):
    quota, strict = fairness[seed]
    b_worst_h = quota.workspace_waits["B"][2] / 3600
    assert b_worst_h <= 15, f"B waited up to {b_worst_h:.1f} h"
    assert strict.workspace_waits["B"][2] >= 2 * quota.workspace_waits["B"][2]
    # Measured 0.957-0.963 (strict priority: 0.986-0.987); the research's sim reached 0.985.
    assert quota.util >= 0.95, f"utilisation {quota.util:.3f}"
    # Every start was checked by the simulator: within its quota no workspace ever held more.
    assert all(quota.peak_within[ws] <= QUOTAS[ws] for ws in QUOTAS)
    assert quota.peak_within["B"] == QUOTAS["B"]   # B did use its whole share at times
