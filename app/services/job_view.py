"""The job read model: one object per job, loaded in one session, that every API family maps to
its own shape (seed 001's detail, seed 004's Job, seed 003's runs, the dashboard), so none of
them reads the tables itself and they cannot disagree about a job."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from app.models import Job, JobAttempt, JobMetric, JobTransition, Workspace
from app.services import job_queries, model_view
from config.protocol import DEFAULT_ENV


@dataclass(frozen=True)
class Timeline:
    created: datetime
    started: datetime | None
    finished: datetime | None
    stop_requested: datetime | None


@dataclass(frozen=True)
class JobView:
    job: Job
    workspace_name: str
    transitions: tuple[JobTransition, ...]
    attempts: tuple[JobAttempt, ...]
    latest_metric: JobMetric | None
    #: The seed 002 model this job trains; None for a job no model owns.
    model_id: int | None = None

    @property
    def timeline(self) -> Timeline:
        job = self.job
        return Timeline(job.created_at, job.started_at, job.finished_at, job.stop_requested_at)

    def columns(self) -> dict:
        """The job's own fields, by column name; env_id as the job runs (None means default)."""
        values = {column.key: getattr(self.job, column.key)
                  for column in self.job.__table__.columns}
        return {**values, "env_id": self.job.env_id or DEFAULT_ENV}


def load(session, job_id: str) -> JobView:
    """The job's view; NotFound (404) when there is no such job. Access is the caller's check."""
    job = job_queries.get_job(session, job_id)
    workspace = session.scalar(select(Workspace.name).where(Workspace.id == job.workspace_id))
    return JobView(job, workspace or "", tuple(job.transitions), tuple(job.attempts),
                   job_queries.latest_metric(session, job),
                   model_view.model_of_job(session, job.id))
