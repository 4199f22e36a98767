"""What a job leaves behind goes when it should: TRAINQ_RETENTION_DAYS prunes the log lines of
long-finished jobs (only those, in bounded batches), and deleting a job deletes its logs and
metrics too (real database, the live API)."""
from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from app.consumer.retention import LogRetention
from app.db import Database
from app.models import Job, JobAttempt, JobLogLine, JobMetric, JobTransition
from app.models.base import utcnow
from config.settings import Settings, SettingsError


@pytest.fixture
def db(stack_env, migrated):
    database = Database(stack_env["TRAINQ_DATABASE_URL"])
    yield database
    database.dispose()


def _job(db, status: str, *, finished_days_ago: float | None, lines: int) -> str:
    """A job of workspace 1 with `lines` output lines and two epochs of metrics."""
    now, job_id = utcnow(), f"job-ret{secrets.token_hex(6)}"
    finished = now - timedelta(days=finished_days_ago) if finished_days_ago is not None else None
    with db.write() as session:
        session.add(Job(id=job_id, name="retention", framework="pytorch", script_path="x.py",
                        cpu=1, memory=1, gpu=0, priority=5, pool="cpu", queue="train.cpu.p05",
                        status=status, attempt=1, args=[], envs={}, workspace_id=1,
                        created_at=now - timedelta(days=90), started_at=now - timedelta(days=89),
                        finished_at=finished))
        session.flush()
        session.add(JobAttempt(job_id=job_id, number=1, started_at=now))
        session.add(JobTransition(job_id=job_id, attempt=1, to_status=status))
        session.execute(insert(JobMetric), [{"job_id": job_id, "attempt": 1, "epoch": e,
                                             "loss": 0.1, "extra": {}} for e in (1, 2)])
        if lines:
            session.execute(insert(JobLogLine), [
                {"job_id": job_id, "attempt": 1, "rank": 0, "seq": seq, "stream": "stdout",
                 "line": f"line {seq}", "at": now} for seq in range(1, lines + 1)])
    return job_id


def _count(db, model, job_id: str) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(model)
                              .where(model.job_id == job_id))


def test_retention_prunes_only_the_logs_of_jobs_finished_long_ago(db):
    old = {status: _job(db, status, finished_days_ago=40, lines=30)
           for status in ("completed", "failed", "cancelled")}
    kept = {"recent": _job(db, "completed", finished_days_ago=2, lines=5),
            "running": _job(db, "training", finished_days_ago=None, lines=5),
            "queued_again": _job(db, "queued", finished_days_ago=45, lines=5)}
    retention = LogRetention(db, 30, batch=7, per_sweep=20)
    sweeps = []
    while not sweeps or sweeps[-1]:
        sweeps.append(retention.run_once())
    assert max(sweeps) <= 20 and len(sweeps) >= 5  # 90 lines, at most 20 a sweep
    for job_id in old.values():
        assert _count(db, JobLogLine, job_id) == 0
        assert _count(db, JobMetric, job_id) == 2 and _count(db, JobAttempt, job_id) == 1
    for job_id in kept.values():
        assert _count(db, JobLogLine, job_id) == 5


def test_a_later_sweep_reaches_jobs_that_aged_past_the_limit_since(db):
    job_id = _job(db, "completed", finished_days_ago=20, lines=3)
    retention = LogRetention(db, 30)
    retention.run_once()
    assert _count(db, JobLogLine, job_id) == 3
    retention.run_once(now=utcnow() + timedelta(days=11))
    assert _count(db, JobLogLine, job_id) == 0


def test_without_retention_nothing_is_pruned(db):
    job_id = _job(db, "completed", finished_days_ago=4000, lines=3)
    assert LogRetention(db, None).run_once() == 0
    assert _count(db, JobLogLine, job_id) == 3


def test_deleting_a_job_deletes_its_logs_metrics_attempts_and_timeline(api, db):
    job_id = _job(db, "completed", finished_days_ago=1, lines=4)
    assert api.request("DELETE", f"/api/v1/training/jobs/{job_id}").status_code == 204
    for model in (JobLogLine, JobMetric, JobAttempt, JobTransition):
        assert _count(db, model, job_id) == 0, model.__tablename__


@pytest.mark.parametrize("value, days", [("", None), ("30", 30), (" 7 ", 7), ("36500", 36500)])
def test_retention_days_setting(value, days):
    assert Settings.from_env({"TRAINQ_RETENTION_DAYS": value}).retention_days == days


@pytest.mark.parametrize("value", ["0", "-1", "1.5", "thirty", "36501", "٣"])
def test_a_bad_retention_setting_names_the_variable_and_the_choices(value):
    with pytest.raises(SettingsError, match=r"TRAINQ_RETENTION_DAYS must be a whole number of "
                                            r"days from 1 to 36500 \(or empty to keep logs"):
        Settings.from_env({"TRAINQ_RETENTION_DAYS": value})
