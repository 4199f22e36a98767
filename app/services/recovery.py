"""What the control plane does when a worker is lost: retry as a new attempt, or fail."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.status import JobStatus
from app.models import Job, JobAttempt
from app.models.base import utcnow
from app.services.transitions import transition
from config.keys import attempt_key
from config.protocol import FailureClass


def retries_left(job: Job) -> int:
    if not job.auto_fault_tolerance:
        return 0
    return max(0, job.fault_tolerance_max_retry - (job.attempt - 1))


def handle_lost_worker(session: Session, redis, job_id: str, attempt: int, silent_for: float,
                       notify_url: str) -> str | None:
    """Retry or fail a job whose attempt lost its worker; None when the job moved on meanwhile."""
    job = session.scalars(select(Job).where(Job.id == job_id).with_for_update()).one_or_none()
    if job is None or job.attempt != attempt or JobStatus(job.status).is_terminal:
        return None
    lost = (f"the worker running attempt {attempt} was lost "
            f"(no heartbeat for {silent_for:.0f}s)")
    _close_attempt(session, job, lost)
    if retries_left(job) > 0:
        _retry(session, redis, job, lost, notify_url)
        return "retried"
    reason = ("automatic retry is off (auto_fault_tolerance=false)" if not job.auto_fault_tolerance
              else f"no retries left (fault_tolerance_max_retry={job.fault_tolerance_max_retry})")
    transition(session, job, JobStatus.FAILED, attempt=attempt, notify_url=notify_url,
               message=f"{lost}; {reason}")
    return "failed"


def _retry(session: Session, redis, job: Job, lost: str, notify_url: str) -> None:
    total = job.fault_tolerance_max_retry + 1
    message = f"{lost}; retrying as attempt {job.attempt + 1} of {total}"
    if job.status == JobStatus.TRAINING.value:
        transition(session, job, JobStatus.QUEUED, attempt=job.attempt, notify_url=notify_url,
                   message=message)
    # Fence first: a worker of the old attempt that is still alive stops at its next heartbeat.
    redis.set(attempt_key(job.id), job.attempt + 1)
    job.attempt += 1
    job.published_at = None
    job.not_before = utcnow() + timedelta(seconds=job.fault_tolerance_retry_interval_sec)


def _close_attempt(session: Session, job: Job, message: str) -> None:
    row = session.scalars(select(JobAttempt).where(JobAttempt.job_id == job.id,
                                                   JobAttempt.number == job.attempt)).first()
    if row is None:
        row = JobAttempt(job_id=job.id, number=job.attempt)
        session.add(row)
    row.finished_at, row.failure_class, row.message = utcnow(), FailureClass.WORKER_LOST, message
