"""Runs: every attempt of a job is a run, so a training's history across retries (and, by name,
across resubmissions) can be listed. Seed 003's run history and /api/v1's runs map these."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, literal, null, or_, select, union_all

from app.domain.status import JobStatus
from app.models import Job, JobAttempt, JobMetric
from app.services import access
from app.services.job_queries import Page
from config.protocol import NAMED_METRICS, FailureClass

#: A past attempt that was stopped from outside (by request, or for other work) was cancelled;
#: any other past attempt failed (that is why there was another).
_STOPPED_FROM_OUTSIDE = (FailureClass.CANCELLED.value, FailureClass.PREEMPTED.value)


@dataclass(frozen=True)
class Run:
    job_id: str
    job_name: str
    workspace_id: int
    attempt: int
    status: JobStatus
    started_at: datetime | None
    finished_at: datetime | None
    failure_class: str | None
    message: str | None
    #: The last epoch this attempt reported: {epoch, total_epochs, loss, …}; empty if none.
    last_epoch: dict[str, Any] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return f"{self.job_id}.{self.attempt}"

    @property
    def progress(self) -> int:
        """0–100: the last reported epoch of total_epochs; 100 once it completed."""
        if self.status is JobStatus.COMPLETED:
            return 100
        epoch, total = self.last_epoch.get("epoch"), self.last_epoch.get("total_epochs")
        return min(100, int(100 * epoch / total)) if epoch and total else 0

    @property
    def metrics(self) -> dict[str, Any]:
        """The attempt's final (last reported) metrics, named and extra."""
        return {name: value for name, value in self.last_epoch.items() if value is not None}


@dataclass(frozen=True)
class RunFilter:
    job_id: str | None = None
    job_name: str | None = None
    workspace_id: int | None = None
    status: JobStatus | None = None
    started_after: datetime | None = None
    ended_before: datetime | None = None


def list_runs(session, user, where: RunFilter, page: int, page_size: int) -> Page:
    """Runs the user may see, newest start first (runs that have not started yet lead)."""
    runs = _all_runs().subquery()
    query = _narrow(select(runs), runs, where, user)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(
        runs.c.started_at.is_(None).desc(), runs.c.started_at.desc(), runs.c.created_at.desc(),
        runs.c.attempt.desc()).offset((page - 1) * page_size).limit(page_size)).all()
    epochs = _last_epochs(session, [(row.job_id, row.attempt) for row in rows])
    items = [Run(row.job_id, row.job_name, row.workspace_id, row.attempt,
                 JobStatus(row.status), row.started_at, row.finished_at, row.failure_class,
                 row.message, epochs.get((row.job_id, row.attempt), {})) for row in rows]
    return Page(items, page, page_size, total)


def _all_runs():
    """Every attempt that has a row, plus the current attempt of each queued job (it has none
    until it starts), with the status each run has now."""
    current = JobAttempt.number == Job.attempt
    status = case((and_(current, Job.status != JobStatus.QUEUED.value), Job.status),
                  (JobAttempt.failure_class.in_(_STOPPED_FROM_OUTSIDE),
                   literal(JobStatus.CANCELLED.value)),
                  else_=literal(JobStatus.FAILED.value))
    started = select(JobAttempt.job_id, JobAttempt.number.label("attempt"),
                     status.label("status"), JobAttempt.started_at, JobAttempt.finished_at,
                     JobAttempt.failure_class, JobAttempt.message, *_job_columns()) \
        .join(Job, Job.id == JobAttempt.job_id) \
        .where(or_(~current, Job.status != JobStatus.QUEUED.value))
    waiting = select(Job.id.label("job_id"), Job.attempt.label("attempt"),
                     literal(JobStatus.QUEUED.value).label("status"),
                     null().cast(JobAttempt.started_at.type).label("started_at"),
                     null().cast(JobAttempt.finished_at.type).label("finished_at"),
                     null().cast(JobAttempt.failure_class.type).label("failure_class"),
                     null().cast(JobAttempt.message.type).label("message"), *_job_columns()) \
        .where(Job.status == JobStatus.QUEUED.value)
    return union_all(started, waiting)


def _job_columns():
    return (Job.name.label("job_name"), Job.workspace_id.label("workspace_id"),
            Job.created_at.label("created_at"))


def _narrow(query, runs, where: RunFilter, user):
    if not user.is_admin:
        query = query.where(runs.c.workspace_id.in_(access.member_workspace_ids(user)))
    conditions = [(where.job_id, lambda v: runs.c.job_id == v),
                  (where.job_name, lambda v: runs.c.job_name == v),
                  (where.workspace_id, lambda v: runs.c.workspace_id == v),
                  (where.status, lambda v: runs.c.status == v.value),
                  (where.started_after, lambda v: runs.c.started_at >= _next_ms(v)),
                  (where.ended_before, lambda v: runs.c.finished_at < v)]
    for value, condition in conditions:
        if value is not None:
            query = query.where(condition(value))
    return query


def _next_ms(moment: datetime) -> datetime:
    """Times are shown to the millisecond: "after 10:00:00.123" excludes 10:00:00.123456 too,
    so a client that passes back the start time it was shown does not get that run again."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000) + timedelta(milliseconds=1)


def _last_epochs(session, keys: list[tuple[str, int]]) -> dict[tuple[str, int], dict]:
    """The last epoch each (job, attempt) reported, for a page of runs."""
    if not keys:
        return {}
    order = func.row_number().over(partition_by=(JobMetric.job_id, JobMetric.attempt),
                                   order_by=JobMetric.epoch.desc())
    ranked = select(JobMetric, order.label("n")).where(
        JobMetric.job_id.in_({job_id for job_id, _ in keys})).subquery()
    rows = session.execute(select(ranked).where(ranked.c.n == 1)).all()
    wanted = set(keys)
    return {(r.job_id, r.attempt): {"epoch": r.epoch, "total_epochs": r.total_epochs,
                                    **{name: getattr(r, name) for name in NAMED_METRICS},
                                    **(r.extra or {})}
            for r in rows if (r.job_id, r.attempt) in wanted}
