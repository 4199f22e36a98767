"""Apply one worker event to the database, idempotently and through the state machine."""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.status import JobStatus
from app.models import Job, JobLogLine, JobMetric
from app.services.attempts import current_attempt
from app.services.transitions import transition
from app.webhooks.outbox import owe_result
from app.services.requeue import requeue_as_new_attempt
from config.protocol import NAMED_METRICS, EventKind, FailureClass, Outcome

log = logging.getLogger(__name__)

#: Outcomes a worker reports in its `finished` event, and the status each leads to
#: (PREEMPTED leads back to `queued` as a new attempt: see _finished).
OUTCOME_STATUS = {Outcome.COMPLETED: JobStatus.COMPLETED, Outcome.FAILED: JobStatus.FAILED,
                  Outcome.CANCELLED: JobStatus.CANCELLED}


def apply_event(session: Session, event: dict[str, Any], notify_url: str,
                locked: dict[str, Job | None] | None = None, redis=None) -> None:
    """Dispatch by kind; events of an attempt that is no longer current change nothing.

    `locked` caches the jobs this transaction already holds, so a batch of one job's events
    locks and loads it once. `redis` fences a requeued attempt (a preempted one)."""
    job = _locked_job(session, event["job_id"], {} if locked is None else locked)
    if job is None or int(event["attempt"]) != job.attempt:
        return  # deleted job, or a stale attempt (fencing)
    handler = HANDLERS.get(event["kind"])
    if handler is None:
        log.warning("ignoring event of unknown kind %r", event["kind"])
        return
    handler(session, job, event["data"], _event_time(event), notify_url, redis)


def _locked_job(session: Session, job_id: str, locked: dict[str, Job | None]) -> Job | None:
    if job_id not in locked:
        locked[job_id] = session.scalars(select(Job).where(Job.id == job_id).with_for_update()
                                         ).one_or_none()
    return locked[job_id]


def _started(session, job: Job, data, at: datetime, notify_url: str, redis) -> None:
    attempt = current_attempt(session, job)
    attempt.worker, attempt.gpus, attempt.pid = data.get("worker"), data.get("gpus"), data.get("pid")
    attempt.started_at = attempt.started_at or at
    transition(session, job, JobStatus.TRAINING, attempt=job.attempt, notify_url=notify_url, at=at)


def _epoch(session, job: Job, data, at: datetime, notify_url: str, redis) -> None:
    epoch = int(data["epoch"])
    exists = session.scalar(select(JobMetric.id).where(
        JobMetric.job_id == job.id, JobMetric.attempt == job.attempt, JobMetric.epoch == epoch))
    if exists is not None:
        return  # replayed event
    metric = JobMetric(job_id=job.id, attempt=job.attempt, epoch=epoch, reported_at=at,
                       total_epochs=data.get("total_epochs"), extra=data.get("extra") or {},
                       **{name: data.get(name) for name in NAMED_METRICS})
    session.add(metric)
    owe_result(session, job, metric, notify_url)


def _log(session, job: Job, data, at: datetime, notify_url: str, redis) -> None:
    lines = data["lines"]
    seqs = [line["seq"] for line in lines]
    seen = set(session.scalars(select(JobLogLine.seq).where(
        JobLogLine.job_id == job.id, JobLogLine.attempt == job.attempt,
        JobLogLine.seq.between(min(seqs), max(seqs)))))
    session.add_all(JobLogLine(job_id=job.id, attempt=job.attempt, seq=line["seq"],
                               stream=line["stream"], line=line["line"], at=at)
                    for line in lines if line["seq"] not in seen)


def _finished(session, job: Job, data, at: datetime, notify_url: str, redis) -> None:
    attempt = current_attempt(session, job)
    attempt.finished_at = at
    attempt.exit_code, attempt.exit_signal = data.get("exit_code"), data.get("exit_signal")
    attempt.failure_class, attempt.message = data.get("failure_class"), data.get("message")
    if data["outcome"] == Outcome.PREEMPTED:
        # The job did nothing wrong: back to the queue at once, its retry budget untouched; it
        # resumes from TRAINQ_CHECKPOINT_DIR when placed again.
        requeue_as_new_attempt(session, redis, job, failure_class=FailureClass.PREEMPTED,
                               message=data.get("message") or "preempted",
                               notify_url=notify_url, counts_against_retries=False,
                               delay_seconds=0)
        return
    status = OUTCOME_STATUS[data["outcome"]]
    transition(session, job, status, attempt=job.attempt, notify_url=notify_url,
               message=data.get("message"), at=at)


def _event_time(event: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(float(event["ts"]), tz=timezone.utc)


HANDLERS: dict[str, Callable[..., None]] = {
    EventKind.STARTED: _started, EventKind.EPOCH: _epoch, EventKind.LOG: _log,
    EventKind.FINISHED: _finished}
