"""A job the database has but nobody announced (the API died between commit and waking the
scheduler, or lost Redis right then) is placed by the scheduler, which reads queued jobs from the
database, and runs once. (Redis losing its data is tests/faults/test_broker_and_consumer.py's
flush and restart tests.)"""
from __future__ import annotations

import time
from datetime import timedelta

import pytest

from app.db import Database
from app.models import Job
from app.models.base import utcnow
from app.services.transitions import record_creation

pytestmark = pytest.mark.e2e


def test_a_queued_job_nobody_announced_is_placed_and_runs(api, stack_env):
    job_id = f"job-orphan{time.time_ns()}"
    db = Database(stack_env["TRAINQ_DATABASE_URL"])
    try:
        with db.write() as session:
            created = utcnow() - timedelta(seconds=30)
            job = Job(id=job_id, name="orphan", framework="pytorch", script_path="show_env.py",
                      cpu=1, memory=1, gpu=0, priority=5, pool="cpu", queue="train.cpu.p05",
                      status="queued", attempt=1, args=[], envs={}, created_at=created,
                      workspace_id=1)
            session.add(job)
            session.flush()
            record_creation(session, job, "")
    finally:
        db.dispose()
    finished = api.wait_terminal(job_id, timeout=60)
    assert finished["status"] == "completed" and finished["attempt"] == 1
    assert len(finished["attempts"]) == 1
