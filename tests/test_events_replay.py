"""The consumer's event application is idempotent and fenced by attempt (real database)."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from app.db import Database
from app.models import Job, JobLogLine, JobMetric, JobTransition, WebhookDelivery
from app.models.base import utcnow
from app.services.events import apply_event
from app.services.transitions import record_creation

NOTIFY = "http://receiver.invalid"


@pytest.fixture
def db(stack_env, migrated):
    database = Database(stack_env["TRAINQ_DATABASE_URL"])
    yield database
    database.dispose()


@pytest.fixture
def job(db):
    row = Job(id=f"job-replay{time.time_ns()}", name="replay", framework="pytorch",
              script_path="x.py", cpu=1, memory=1, gpu=0, priority=5, pool="cpu",
              queue="train.cpu.p05", status="queued", attempt=1, args=[], envs={},
              created_at=utcnow(), workspace_id=1)
    with db.write() as session:
        session.add(row)
        session.flush()
        record_creation(session, row, NOTIFY)
    return row


def _event(job, kind, data, attempt=1):
    return {"job_id": job.id, "attempt": str(attempt), "kind": kind, "ts": repr(time.time()),
            "data": data}


def _apply(db, *events):
    with db.write() as session:
        for event in events:
            apply_event(session, event, NOTIFY)


def _count(db, model, job):
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(model).where(model.job_id == job.id))


def test_replayed_events_change_nothing_twice(db, job):
    events = [_event(job, "started", {"worker": "w1", "gpus": "", "pid": 1}),
              _event(job, "log", {"lines": [{"seq": 1, "stream": "stdout", "line": "hi"}]}),
              _event(job, "epoch", {"epoch": 1, "loss": 0.5, "extra": {}}),
              _event(job, "finished", {"outcome": "completed", "exit_code": 0})]
    _apply(db, *events)
    _apply(db, *events)  # a consumer crash before XACK delivers the whole batch again
    _apply(db, events[2])
    assert _count(db, JobMetric, job) == 1 and _count(db, JobLogLine, job) == 1
    assert _count(db, JobTransition, job) == 3  # queued, training, completed
    assert _count(db, WebhookDelivery, job) == 4  # status 1, 2, result, status 3
    with db.read() as session:
        assert session.get(Job, job.id).status == "completed"


def test_events_of_an_old_attempt_are_ignored(db, job):
    with db.write() as session:
        session.get(Job, job.id).attempt = 2
    _apply(db, _event(job, "started", {"worker": "old"}, attempt=1),
           _event(job, "epoch", {"epoch": 1, "loss": 0.1}, attempt=1),
           _event(job, "finished", {"outcome": "failed", "message": "x"}, attempt=1))
    with db.read() as session:
        assert session.get(Job, job.id).status == "queued"
    assert _count(db, JobMetric, job) == 0


def test_terminal_status_is_never_left(db, job):
    _apply(db, _event(job, "started", {}),
           _event(job, "finished", {"outcome": "cancelled", "message": "stopped"}),
           _event(job, "finished", {"outcome": "completed", "exit_code": 0}))
    with db.read() as session:
        stored = session.get(Job, job.id)
        assert stored.status == "cancelled" and stored.failure_message == "stopped"
