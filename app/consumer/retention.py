"""Log retention (TRAINQ_RETENTION_DAYS): the output lines of a job that finished more than that
many days ago are deleted. Only the lines: the job, its timeline, attempts and metrics stay, so
the history and its figures outlive the bulk of what a job leaves behind.

The consumer runs a sweep every reaper period. A sweep deletes at most `per_sweep` lines, in
transactions of `batch` lines, so it never holds SQLite's single write lock (or PostgreSQL row
locks) for long, and never keeps the consumer from the event stream for long either."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, exists, select

from app.domain.status import TERMINAL
from app.models import Job, JobLogLine
from app.models.base import utcnow

BATCH_LINES = 2_000
SWEEP_LINES = 20_000


class LogRetention:
    def __init__(self, db, days: int | None, *, batch: int = BATCH_LINES,
                 per_sweep: int = SWEEP_LINES):
        self.db, self.days, self.batch, self.per_sweep = db, days, batch, per_sweep
        #: Every job that finished before this has no lines left (None: not known yet, as after
        #: a restart). The search for the next job to prune starts here, so a sweep with nothing
        #: to do reads only the jobs that finished since the last one (ix_jobs_finished_id).
        self.clean_before: datetime | None = None

    def run_once(self, now: datetime | None = None) -> int:
        """One sweep; returns how many lines it deleted."""
        if self.days is None:
            return 0
        cutoff = (now or utcnow()) - timedelta(days=self.days)
        deleted = 0
        while deleted < self.per_sweep:
            job = self._oldest_with_lines(cutoff)
            if job is None:
                self.clean_before = cutoff
                break
            self.clean_before = job.finished_at
            deleted += self._delete_lines(job.id, min(self.batch, self.per_sweep - deleted))
        return deleted

    def _oldest_with_lines(self, cutoff: datetime):
        query = (select(Job.id, Job.finished_at)
                 .where(Job.finished_at < cutoff,
                        Job.status.in_([status.value for status in TERMINAL]),
                        exists().where(JobLogLine.job_id == Job.id))
                 .order_by(Job.finished_at, Job.id).limit(1))
        if self.clean_before is not None:
            query = query.where(Job.finished_at >= self.clean_before)
        with self.db.read() as session:
            return session.execute(query).first()

    def _delete_lines(self, job_id: str, limit: int) -> int:
        some = select(JobLogLine.id).where(JobLogLine.job_id == job_id).limit(limit)
        with self.db.write() as session:
            return session.execute(delete(JobLogLine).where(JobLogLine.id.in_(some))
                                   .execution_options(synchronize_session=False)).rowcount
