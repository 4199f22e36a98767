"""Workspace GPU quotas with borrowing, as an order: the jobs that fit within their workspace's
quota go first (in priority order among themselves), then the jobs that would borrow idle GPUs
beyond it. So a workspace under its quota is never kept waiting by another's borrowing, and an
idle GPU is never kept idle for a quota. Kueue calls this nominal quota and borrowing; the
research (scheduling.md, S5) measured it against strict priority and aging."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from app.scheduler.model import PendingJob, RunningJob


def usage(running: Sequence[RunningJob]) -> dict[str, int]:
    """GPUs each workspace holds now, over all instances of its running jobs."""
    held: dict[str, int] = {}
    for job in running:
        held[job.workspace] = held.get(job.workspace, 0) + sum(len(g) for g in job.hosts.values())
    return held


def within_quota_first(ordered: Sequence[PendingJob], running: Sequence[RunningJob],
                       quotas: Mapping[str, int]) -> tuple[list[PendingJob], set[str]]:
    """(the jobs in the order to try them, the ids of those that would borrow). A job is
    within quota if its workspace has no quota, or the GPUs it already holds plus those of the
    earlier jobs within quota plus this one's fit in it."""
    projected = usage(running)
    within, borrowing = [], []
    for job in ordered:
        quota = quotas.get(job.workspace)
        need = job.gpus * job.instances
        if quota is None or projected.get(job.workspace, 0) + need <= quota:
            within.append(job)
            projected[job.workspace] = projected.get(job.workspace, 0) + need
        else:
            borrowing.append(job)
    return within + borrowing, {job.id for job in borrowing}
