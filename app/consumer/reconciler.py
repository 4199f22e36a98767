"""Re-raise stop flags Redis never got. A stop is committed to the database before its Redis
flag is written; if that write was lost (a Redis blip, the API killed in between, Redis losing
its data), the worker would never hear of the stop. (Queued jobs need no such repair any more:
the scheduler reads them from the database every cycle.)"""
from __future__ import annotations

from sqlalchemy import select

from app.domain.status import JobStatus
from app.models import Job
from app.services.jobs import flag_cancel


class Reconciler:
    def __init__(self, runtime, redis):
        self.runtime, self.redis = runtime, redis

    def run_once(self) -> int:
        """One sweep; returns how many stop flags it wrote."""
        with self.runtime.db.read() as session:
            stopping = list(session.scalars(select(Job.id).where(
                Job.status == JobStatus.TRAINING.value, Job.stop_requested_at.is_not(None))))
        for job_id in stopping:
            flag_cancel(self.redis, job_id)
        return len(stopping)
