"""Per-workspace limits, checked in the same transaction that records the job."""
from __future__ import annotations

from sqlalchemy import func, select

from app.domain.status import JobStatus
from app.errors import InvalidInput, TooManyRequests
from app.models import Job, Workspace

#: What a client over the queued-jobs limit is told to wait before trying again.
QUEUE_FULL_RETRY_SECONDS = 30


def check_quotas(session, workspace: Workspace, gpu: int, adding: int = 1) -> None:
    """Refuse a job (or `adding` jobs, the widest asking for `gpu`) over the workspace's GPU or
    queued-job limit, with what to change."""
    # Lock the workspace row so concurrent submits to it are counted one after another and
    # cannot both see "one place left" (on SQLite the write transaction already serialises).
    session.execute(select(Workspace.id).where(Workspace.id == workspace.id).with_for_update())
    if workspace.max_gpus_per_job is not None and gpu > workspace.max_gpus_per_job:
        raise InvalidInput(errors={"gpu": [
            f"workspace {workspace.name!r} allows at most {workspace.max_gpus_per_job} GPUs per "
            "job; ask for fewer or ask an admin to raise the limit"]})
    if workspace.max_queued_jobs is None:
        return
    queued = session.scalar(select(func.count()).select_from(Job).where(
        Job.workspace_id == workspace.id, Job.status == JobStatus.QUEUED.value))
    if queued + adding > workspace.max_queued_jobs:
        full = f"{queued} queued jobs, its limit" if adding == 1 else (
            f"{queued} queued jobs and these {adding} would make {queued + adding}, over its "
            f"limit of {workspace.max_queued_jobs}")
        raise TooManyRequests(
            f"workspace {workspace.name!r} already has {full}; wait for some to start, stop "
            "some, or ask an admin to raise max_queued_jobs", retry_after=QUEUE_FULL_RETRY_SECONDS)
