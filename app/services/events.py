"""Apply one worker event to the database, idempotently and through the state machine."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.domain.status import JobStatus
from app.metrics import record
from app.models import Job, JobLogLine, JobMetric, JobStep, JobStepSpan
from app.services import gang as gangs
from app.services.attempts import current_attempt
from app.services.transitions import transition
from app.webhooks.outbox import owe_result
from app.services.recovery import fail_with_first_failure
from app.services.requeue import requeue_as_new_attempt
from config.protocol import NAMED_METRICS, EventKind, FailureClass, Outcome, entry_rank

log = logging.getLogger(__name__)

#: Outcomes a worker reports in its `finished` event, and the status each leads to
#: (PREEMPTED leads back to `queued` as a new attempt: see _finished).
OUTCOME_STATUS = {Outcome.COMPLETED: JobStatus.COMPLETED, Outcome.FAILED: JobStatus.FAILED,
                  Outcome.CANCELLED: JobStatus.CANCELLED}


def apply_event(session: Session, event: dict[str, Any], notify_url: str,
                locked: dict[str, Job | None] | None = None, redis=None) -> None:
    """Dispatch by kind; events of an attempt that is no longer current change nothing.

    `locked` caches the jobs this transaction already holds, so a batch of one job's events
    locks and loads it once. `redis` fences a requeued attempt (a preempted one) and stops the
    other instances of a multi-host attempt that ended."""
    job = _locked_job(session, event["job_id"], {} if locked is None else locked)
    if job is None or int(event["attempt"]) != job.attempt:
        return  # deleted job, or a stale attempt (fencing)
    handler = HANDLERS.get(event["kind"])
    if handler is None:
        log.warning("ignoring event of unknown kind %r", event["kind"])
        return
    handler(Applied(session, job, event["data"], _event_time(event), notify_url, redis,
                    entry_rank(event)))


@dataclass(frozen=True)
class Applied:
    """One event being applied: the job it is about (locked) and where it came from."""
    session: Session
    job: Job
    data: dict[str, Any]
    at: datetime
    notify_url: str
    redis: Any
    rank: int  # the instance that sent it; 0 for a single-instance job


def _locked_job(session: Session, job_id: str, locked: dict[str, Job | None]) -> Job | None:
    if job_id not in locked:
        locked[job_id] = session.scalars(select(Job).where(Job.id == job_id).with_for_update()
                                         ).one_or_none()
    return locked[job_id]


def _started(e: Applied) -> None:
    attempt = current_attempt(e.session, e.job)
    facts = e.data
    if gangs.is_gang(e.job):
        gangs.record_start(attempt, e.rank, e.data, e.at)
        if not gangs.all_started(attempt, e.job):
            return  # `training` (and its webhook) once every instance runs
        facts = gangs.summary(attempt)
    attempt.worker, attempt.gpus = facts.get("worker"), facts.get("gpus")
    attempt.pid = facts.get("pid")
    attempt.started_at = attempt.started_at or e.at
    transition(e.session, e.job, JobStatus.TRAINING, attempt=e.job.attempt,
               notify_url=e.notify_url, at=e.at)


def _epoch(e: Applied) -> None:
    if e.rank != 0:
        return  # rank 0 reports a gang's epochs; the others train the same model
    job, epoch = e.job, int(e.data["epoch"])
    exists = e.session.scalar(select(JobMetric.id).where(
        JobMetric.job_id == job.id, JobMetric.attempt == job.attempt, JobMetric.epoch == epoch))
    if exists is not None:
        return  # replayed event
    metric = JobMetric(job_id=job.id, attempt=job.attempt, epoch=epoch, reported_at=e.at,
                       total_epochs=e.data.get("total_epochs"), extra=e.data.get("extra") or {},
                       **{name: e.data.get(name) for name in NAMED_METRICS})
    e.session.add(metric)
    owe_result(e.session, job, metric, e.notify_url)


def _log(e: Applied) -> None:
    job, lines = e.job, e.data["lines"]
    seqs = [line["seq"] for line in lines]
    seen = set(e.session.scalars(select(JobLogLine.seq).where(
        JobLogLine.job_id == job.id, JobLogLine.attempt == job.attempt,
        JobLogLine.rank == e.rank, JobLogLine.seq.between(min(seqs), max(seqs)))))
    e.session.add_all(JobLogLine(job_id=job.id, attempt=job.attempt, rank=e.rank,
                                 seq=line["seq"], stream=line["stream"], line=line["line"],
                                 at=e.at)
                      for line in lines if line["seq"] not in seen)


def _steps(e: Applied) -> None:
    """Store the steps not stored yet; the first report of a step wins, as for epochs."""
    if e.rank != 0 or not e.data["steps"]:
        return  # rank 0 reports a gang's steps, as its epochs
    job, fresh = e.job, {}
    for record in e.data["steps"]:
        fresh.setdefault(int(record["step"]), record["values"])
    seen = e.session.scalars(select(JobStep.step).where(
        JobStep.job_id == job.id, JobStep.attempt == job.attempt,
        JobStep.step.between(min(fresh), max(fresh))))
    for step in seen:
        fresh.pop(step, None)
    if fresh:  # one multi-row INSERT, no ORM objects: an event holds up to 500 steps
        e.session.execute(insert(JobStep), [
            {"job_id": job.id, "attempt": job.attempt, "step": step, "values": values,
             "reported_at": e.at} for step, values in fresh.items()])
        _widen_span(e.session, job, list(fresh))


def _widen_span(session: Session, job: Job, steps: list[int]) -> None:
    """Count the new steps into the attempt's span (the job row is locked: one writer)."""
    span = session.get(JobStepSpan, (job.id, job.attempt))
    if span is None:
        span = JobStepSpan(job_id=job.id, attempt=job.attempt, steps=0, first_step=min(steps),
                           last_step=max(steps))
        session.add(span)
    span.steps += len(steps)
    span.first_step, span.last_step = min(span.first_step, *steps), max(span.last_step, *steps)


def _finished(e: Applied) -> None:
    attempt = current_attempt(e.session, e.job)
    message = e.data.get("message")
    if gangs.is_gang(e.job):
        if not _gang_instance_finished(e, attempt):
            return
        message = f"instance {e.rank} of {e.job.instance_count}: {message or e.data['outcome']}"
    _close(attempt, e.data, e.at, message)
    _conclude(e, message)


def _gang_instance_finished(e: Applied, attempt) -> bool:
    """Record how one instance ended; True when that ends the attempt as the event says (the
    last instance completed, or the first was cancelled or preempted)."""
    outcome = e.data["outcome"]
    gangs.record(attempt, e.rank, outcome=outcome, exit_code=e.data.get("exit_code"),
                 exit_signal=e.data.get("exit_signal"), message=e.data.get("message"),
                 failure_class=e.data.get("failure_class"), ended_at=e.at.isoformat())
    if JobStatus(e.job.status).is_terminal:
        return False  # the attempt already ended
    failure = gangs.first_failure(attempt)
    if failure is not None:
        # The other instances stop. While one of them has not said how it ended, this may be
        # the echo of a lost host: the reaper decides then (app.services.gang).
        gangs.end(e.redis, e.job.id, e.job.attempt, gangs.failure_message(e.job, failure))
        if not gangs.others_unended(attempt, e.job, e.rank):
            fail_with_first_failure(e.session, e.redis, e.job, e.notify_url)
        return False
    if outcome == Outcome.COMPLETED:
        return gangs.all_completed(attempt, e.job)
    # Cancelled or preempted: the first instance to end so ends them all at once.
    gangs.end(e.redis, e.job.id, e.job.attempt,
              f"instance {e.rank} of {e.job.instance_count}: {e.data.get('message') or outcome}")
    return True


def _close(attempt, data: dict[str, Any], at: datetime, message: str | None) -> None:
    attempt.finished_at = at
    attempt.exit_code, attempt.exit_signal = data.get("exit_code"), data.get("exit_signal")
    attempt.failure_class, attempt.message = data.get("failure_class"), message


def _conclude(e: Applied, message: str | None) -> None:
    """The job's next status after its attempt ended with the event's outcome."""
    if e.data["outcome"] == Outcome.PREEMPTED:
        # The job did nothing wrong: back to the queue at once, its retry budget untouched; it
        # resumes from TRAINQ_CHECKPOINT_DIR when placed again.
        requeue_as_new_attempt(e.session, e.redis, e.job, failure_class=FailureClass.PREEMPTED,
                               message=message or "preempted", notify_url=e.notify_url,
                               counts_against_retries=False, delay_seconds=0)
        return
    if transition(e.session, e.job, OUTCOME_STATUS[e.data["outcome"]], attempt=e.job.attempt,
                  notify_url=e.notify_url, message=message, at=e.at):
        record.job_finished(e.session, e.redis, e.job)


def _event_time(event: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(float(event["ts"]), tz=timezone.utc)


HANDLERS: dict[str, Callable[[Applied], None]] = {
    EventKind.STARTED: _started, EventKind.EPOCH: _epoch, EventKind.LOG: _log,
    EventKind.STEPS: _steps, EventKind.FINISHED: _finished}
