"""What the control plane does when a worker is lost: retry as a new attempt, or fail."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.domain.status import JobStatus
from app.metrics import record
from app.models import Job, JobAttempt
from app.models.base import utcnow
from app.services.attempts import close_attempt, current_attempt
from app.services import gang as gangs
from app.services.gang import end as end_gang
from app.services.requeue import requeue_as_new_attempt
from app.services.transitions import transition
from config.protocol import FailureClass


def retries_left(session: Session, job: Job) -> int:
    """Retries the job may still use: attempts lost through no fault of its own (preempted)
    do not count."""
    if not job.auto_fault_tolerance:
        return 0
    free = session.scalar(select(func.count()).select_from(JobAttempt).where(
        JobAttempt.job_id == job.id, JobAttempt.number < job.attempt,
        JobAttempt.counts_against_retries.is_(False)))
    return max(0, job.fault_tolerance_max_retry - (job.attempt - 1 - free))


def handle_lost_worker(session: Session, redis, job_id: str, attempt: int, silent_for: float,
                       notify_url: str, rank: int = 0) -> str | None:
    """Retry or fail a job whose attempt lost its worker (the worker of instance `rank`, for a
    multi-host attempt); None when the job moved on meanwhile."""
    job = session.scalars(select(Job).where(Job.id == job_id).with_for_update()).one_or_none()
    if job is None or job.attempt != attempt or JobStatus(job.status).is_terminal:
        return None
    instance = f" (instance {rank} of {job.instance_count})" if job.instance_count > 1 else ""
    lost = (f"the worker running attempt {attempt}{instance} was lost "
            f"(no heartbeat for {silent_for:.0f}s)")
    if retries_left(session, job) > 0:
        requeue_as_new_attempt(session, redis, job, failure_class=FailureClass.WORKER_LOST,
                               message=lost, notify_url=notify_url)
        return "retried"
    close_attempt(session, job, FailureClass.WORKER_LOST, lost)
    end_gang(redis, job_id, attempt, lost)  # a multi-host attempt's other instances
    reason = ("automatic retry is off (auto_fault_tolerance=false)" if not job.auto_fault_tolerance
              else f"no retries left (fault_tolerance_max_retry={job.fault_tolerance_max_retry})")
    if transition(session, job, JobStatus.FAILED, attempt=attempt, notify_url=notify_url,
                  message=f"{lost}; {reason}"):
        record.job_finished(session, redis, job)
    return "failed"


def conclude_gang_failure(session: Session, redis, job_id: str, attempt: int,
                          notify_url: str) -> str | None:
    """Fail a multi-host job whose instance failed, now that no instance of the attempt was
    lost (every lease says done); None when there is no such failure to conclude."""
    job = session.scalars(select(Job).where(Job.id == job_id).with_for_update()).one_or_none()
    if job is None or job.attempt != attempt or JobStatus(job.status).is_terminal:
        return None
    return "failed" if fail_with_first_failure(session, redis, job, notify_url) else None


def fail_with_first_failure(session: Session, redis, job: Job, notify_url: str) -> bool:
    """Fail the gang's job as its first failed instance says (False: none failed yet)."""
    row = current_attempt(session, job)
    facts = gangs.first_failure(row)
    if facts is None:
        return False  # the consumer has yet to record how the instances ended
    message = gangs.failure_message(job, facts)
    gangs.end(redis, job.id, job.attempt, message)
    row.finished_at = utcnow()
    row.exit_code, row.exit_signal = facts.get("exit_code"), facts.get("exit_signal")
    row.failure_class, row.message = facts.get("failure_class"), message
    if transition(session, job, JobStatus.FAILED, attempt=job.attempt, notify_url=notify_url,
                  message=message):
        record.job_finished(session, redis, job)
    return True
