"""Requeue as a new attempt (real database, real Redis): the old attempt is closed and fenced,
the job waits in the queue as the next attempt."""
from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import select

from app.domain.status import JobStatus
from app.models import Job, JobAttempt, JobTransition
from app.models.base import utcnow
from app.services.recovery import retries_left
from app.services.requeue import requeue_as_new_attempt
from app.services.transitions import record_creation, transition
from config.keys import attempt_key
from config.protocol import FailureClass
from tests.test_events_replay import NOTIFY, db  # noqa: F401 (db: the database fixture)


def _job(db, status: JobStatus) -> str:
    job_id = f"job-requeue{time.time_ns()}"
    with db.write() as session:
        job = Job(id=job_id, name="requeue", framework="pytorch", script_path="x.py", cpu=1,
                  memory=1, gpu=0, priority=5, pool="cpu", queue="train.cpu.p05",
                  status="queued", attempt=1, args=[], envs={}, created_at=utcnow(),
                  workspace_id=1, published_at=utcnow(), fault_tolerance_retry_interval_sec=30)
        session.add(job)
        session.flush()
        record_creation(session, job, NOTIFY)
        if status is JobStatus.TRAINING:
            transition(session, job, status, attempt=1, notify_url=NOTIFY)
    return job_id


def _requeue(db, redis, job_id: str, **options) -> int:
    with db.write() as session:
        job = session.scalars(select(Job).where(Job.id == job_id).with_for_update()).one()
        return requeue_as_new_attempt(session, redis, job, message="lost it",
                                      notify_url=NOTIFY, **options)


def test_a_training_job_goes_back_to_the_queue_as_the_next_attempt(db, redis_client):
    job_id = _job(db, JobStatus.TRAINING)
    before = utcnow()
    assert _requeue(db, redis_client, job_id, failure_class=FailureClass.WORKER_LOST) == 2
    assert redis_client.get(attempt_key(job_id)) == "2"  # the old attempt's worker stops
    with db.read() as session:
        job = session.get(Job, job_id)
        closed = session.scalars(select(JobAttempt).where(JobAttempt.job_id == job_id)).one()
        last = session.scalars(select(JobTransition).where(JobTransition.job_id == job_id)
                               .order_by(JobTransition.id.desc())).first()
    assert (job.status, job.attempt, job.published_at) == ("queued", 2, None)
    assert before + timedelta(seconds=29) < job.not_before < utcnow() + timedelta(seconds=31)
    assert (closed.number, closed.failure_class, closed.message) == (1, "worker_lost", "lost it")
    assert closed.finished_at is not None
    assert (last.attempt, last.to_status) == (1, "queued")
    assert last.message == "lost it; retrying as attempt 2 of 3"


def test_a_claimed_job_that_never_started_stays_queued(db, redis_client):
    job_id = _job(db, JobStatus.QUEUED)
    assert _requeue(db, redis_client, job_id, failure_class=FailureClass.PREEMPTED,
                    delay_seconds=0) == 2
    with db.read() as session:
        job = session.get(Job, job_id)
        moves = session.scalars(select(JobTransition.to_status)
                                .where(JobTransition.job_id == job_id)).all()
    assert (job.status, job.attempt, moves) == ("queued", 2, ["queued"])
    assert job.not_before <= utcnow()


def test_a_requeue_that_does_not_count_leaves_the_retry_budget_untouched(db, redis_client):
    job_id = _job(db, JobStatus.TRAINING)
    with db.write() as session:
        job = session.get(Job, job_id)
        job.fault_tolerance_max_retry = 1
        before = retries_left(session, job)
    assert _requeue(db, redis_client, job_id, failure_class=FailureClass.PREEMPTED,
                    counts_against_retries=False, delay_seconds=0) == 2
    with db.read() as session:
        job = session.get(Job, job_id)
        closed = session.scalars(select(JobAttempt).where(JobAttempt.job_id == job_id)).one()
        moves = session.scalars(select(JobTransition.message)
                                .where(JobTransition.job_id == job_id)).all()
        assert (before, retries_left(session, job)) == (1, 1)
    assert closed.counts_against_retries is False and closed.failure_class == "preempted"
    assert moves[-1].endswith("queued again as attempt 2, its retry budget untouched")
    assert redis_client.get(attempt_key(job_id)) == "2"
