"""Read side of jobs: list with filters and pages, detail, logs, metrics."""
from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import func, select

from app.errors import NotFound
from app.models import Job, JobLogLine, JobMetric
from app.services import access


@dataclass
class Page:
    items: list
    page: int
    page_size: int
    total: int

    @property
    def total_pages(self) -> int:
        return math.ceil(self.total / self.page_size) if self.total else 0


def list_jobs(session, *, user, page: int, page_size: int, status=None,
              workspace_id=None) -> Page:
    """A page of the jobs `user` may see; the filters only narrow that further."""
    query = access.visible_jobs(select(Job), user)
    if status is not None:
        query = query.where(Job.status == status.value)
    if workspace_id is not None:
        query = query.where(Job.workspace_id == workspace_id)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(query.order_by(Job.created_at.desc(), Job.id.desc())
                           .offset((page - 1) * page_size).limit(page_size)).all()
    return Page(list(rows), page, page_size, total or 0)


def get_job(session, job_id: str) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no training job {job_id!r}; list jobs with GET /api/v1/training/jobs")
    return job


def latest_metric(session, job: Job) -> JobMetric | None:
    return session.scalars(select(JobMetric).where(JobMetric.job_id == job.id)
                           .order_by(JobMetric.attempt.desc(), JobMetric.epoch.desc())
                           .limit(1)).first()


def job_metrics(session, job_id: str) -> list[JobMetric]:
    get_job(session, job_id)
    return list(session.scalars(select(JobMetric).where(JobMetric.job_id == job_id)
                                .order_by(JobMetric.attempt, JobMetric.epoch)))


def job_log_lines(session, job_id: str, lines: int) -> tuple[Job, list[JobLogLine]]:
    """The job and the last `lines` lines of its output, oldest first, across attempts; the
    lines of a multi-host job's instances interleave in the order they were printed."""
    job = get_job(session, job_id)
    newest = session.scalars(select(JobLogLine).where(JobLogLine.job_id == job_id)
                             .order_by(JobLogLine.attempt.desc(), JobLogLine.at.desc(),
                                       JobLogLine.rank.desc(), JobLogLine.seq.desc())
                             .limit(lines)).all()
    return job, list(reversed(newest))
