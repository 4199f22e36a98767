"""Apply a status change to a job: the only code that assigns Job.status."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from app.domain.status import JobStatus, can_transition
from app.models import Job, JobTransition
from app.models.base import utcnow
from app.webhooks.outbox import owe_status


def transition(session: Session, job: Job, new: JobStatus, *, attempt: int, notify_url: str,
               message: str | None = None, at: datetime | None = None) -> bool:
    """Move `job` to `new` if the table allows it and `attempt` is current; False otherwise.

    The webhook for the change is recorded in the same transaction."""
    current = JobStatus(job.status)
    if attempt != job.attempt or not can_transition(current, new):
        return False
    at = at or utcnow()
    job.status = new.value
    _stamp(job, new, message, at)
    session.add(JobTransition(job_id=job.id, attempt=attempt, from_status=current.value,
                              to_status=new.value, message=message, at=at))
    owe_status(session, job, new, message, notify_url)
    return True


def record_creation(session: Session, job: Job, notify_url: str) -> None:
    """The first timeline entry (no previous status) and its 'queued' webhook."""
    session.add(JobTransition(job_id=job.id, attempt=job.attempt, from_status=None,
                              to_status=JobStatus.QUEUED.value, at=job.created_at))
    owe_status(session, job, JobStatus.QUEUED, None, notify_url)


def _stamp(job: Job, new: JobStatus, message: str | None, at: datetime) -> None:
    if new is JobStatus.TRAINING:
        job.started_at = at
    elif new is JobStatus.QUEUED:
        job.started_at = None
    if new.is_terminal:
        job.finished_at = at
        job.failure_message = message if new is not JobStatus.COMPLETED else None
