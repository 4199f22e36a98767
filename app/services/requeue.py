"""Requeue as a new attempt: how a job whose run was taken from it goes back to the queue."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from app.domain.status import JobStatus
from app.models import Job
from app.models.base import utcnow
from app.services.attempts import close_attempt
from app.services.gang import end as end_gang
from app.services.transitions import transition
from config.keys import attempt_key
from config.protocol import FailureClass


def requeue_as_new_attempt(session: Session, redis, job: Job, *, failure_class: FailureClass,
                           message: str, notify_url: str, counts_against_retries: bool = True,
                           delay_seconds: float | None = None) -> int:
    """Close the current attempt, fence it off and queue the job again as attempt + 1, whose
    which the scheduler places once `not_before` has passed. Returns the new attempt number.

    The caller holds the job's row lock, has checked that `job.attempt` is the attempt it
    means, and owns the policy: whether a requeue is allowed at all (the retry budget, see
    recovery.retries_left) and the `message` that says why the attempt ended. Callers:
    - worker loss (recovery.handle_lost_worker): FailureClass.WORKER_LOST, counts;
    - preemption, when the placer takes GPUs back (events._finished): FailureClass.PREEMPTED,
      does not count (the job did nothing wrong), delay_seconds=0;
    - gang failure, when one instance of a multi-host attempt fails or is lost: the whole
      attempt is requeued once, with that instance's failure class; instances of the old
      attempt that still run are stopped by the fence.

    `delay_seconds` defaults to the job's fault_tolerance_retry_interval_sec.
    `counts_against_retries` is recorded with the closed attempt; recovery.retries_left counts
    only the attempts that counted."""
    new_attempt = job.attempt + 1
    closed = close_attempt(session, job, failure_class, message)
    closed.counts_against_retries = counts_against_retries
    if job.status == JobStatus.TRAINING.value:  # a claimed attempt may not have started yet
        transition(session, job, JobStatus.QUEUED, attempt=job.attempt, notify_url=notify_url,
                   message=f"{message}; {_next(job, new_attempt, counts_against_retries)}")
    # Fence first: a worker of the old attempt that is still alive stops at its next heartbeat,
    # and every instance of a multi-host one at once.
    redis.set(attempt_key(job.id), new_attempt)
    end_gang(redis, job.id, job.attempt, message)
    job.attempt = new_attempt
    job.published_at = None
    delay = job.fault_tolerance_retry_interval_sec if delay_seconds is None else delay_seconds
    job.not_before = utcnow() + timedelta(seconds=delay)
    return new_attempt


def _next(job: Job, new_attempt: int, counted: bool) -> str:
    if not counted:
        return f"queued again as attempt {new_attempt}, its retry budget untouched"
    return f"retrying as attempt {new_attempt} of {job.fault_tolerance_max_retry + 1}"
