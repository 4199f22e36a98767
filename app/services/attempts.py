"""A job's attempt rows: the current one, found or made, and how it is closed."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Job, JobAttempt
from app.models.base import utcnow
from config.protocol import FailureClass


def current_attempt(session: Session, job: Job) -> JobAttempt:
    """The row of the job's current attempt; made here when no event has made it yet."""
    row = session.scalars(select(JobAttempt).where(JobAttempt.job_id == job.id,
                                                   JobAttempt.number == job.attempt)).first()
    if row is None:
        row = JobAttempt(job_id=job.id, number=job.attempt)
        session.add(row)
    return row


def close_attempt(session: Session, job: Job, failure_class: FailureClass,
                  message: str) -> JobAttempt:
    """The control plane ended the current attempt (its worker cannot say how it ended)."""
    row = current_attempt(session, job)
    row.finished_at, row.failure_class, row.message = utcnow(), failure_class, message
    return row
