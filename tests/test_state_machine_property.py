"""Property test over the real services: any interleaving of worker events, stops and worker
loss keeps to the transition table, never leaves a terminal state, and the status webhooks owed
tell the same story as the timeline."""
from __future__ import annotations

import time
import uuid

import pytest
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from sqlalchemy import select

from app.db import Database
from app.domain.status import ALLOWED, TERMINAL, JobStatus
from app.models import Job, JobTransition, WebhookDelivery
from app.models.base import utcnow
from app.services.events import apply_event
from app.services.recovery import handle_lost_worker
from app.services.transitions import record_creation, transition

NOTIFY = "http://receiver.invalid"


@pytest.fixture(scope="module")
def property_db(stack_env, migrated):
    database = Database(stack_env["TRAINQ_DATABASE_URL"])
    yield database
    database.dispose()


def test_any_interleaving_keeps_the_state_machine_and_webhooks_consistent(property_db,
                                                                          redis_client):
    class JobLifecycle(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.job_id = f"job-prop{uuid.uuid4().hex[:12]}"
            with property_db.write() as session:
                job = Job(id=self.job_id, name="p", framework="pytorch", script_path="x.py",
                          cpu=1, memory=1, gpu=0, priority=5, pool="cpu", queue="q",
                          status="queued", attempt=1, args=[], envs={}, created_at=utcnow(),
                          fault_tolerance_max_retry=1, workspace_id=1)
                session.add(job)
                session.flush()
                record_creation(session, job, NOTIFY)
            self.terminal_seen = None

        def _job(self, session) -> Job:
            return session.get(Job, self.job_id)

        def _event(self, kind, data, attempt_offset=0):
            with property_db.write() as session:
                attempt = self._job(session).attempt + attempt_offset
                apply_event(session, {"job_id": self.job_id, "attempt": str(attempt),
                                      "kind": kind, "ts": repr(time.time()), "data": data},
                            NOTIFY)

        @rule(stale=st.booleans())
        def started(self, stale):
            self._event("started", {"worker": "w"}, attempt_offset=-1 if stale else 0)

        @rule(epoch=st.integers(1, 3))
        def epoch(self, epoch):
            self._event("epoch", {"epoch": epoch, "loss": 0.1})

        @rule(outcome=st.sampled_from(["completed", "failed", "cancelled"]), stale=st.booleans())
        def finished(self, outcome, stale):
            self._event("finished", {"outcome": outcome, "message": "m"},
                        attempt_offset=-1 if stale else 0)

        @rule()
        def stop_queued(self):
            with property_db.write() as session:
                job = self._job(session)
                if job.status == JobStatus.QUEUED.value:
                    transition(session, job, JobStatus.CANCELLED, attempt=job.attempt,
                               notify_url=NOTIFY, message="stopped")

        @rule()
        def worker_lost(self):
            with property_db.write() as session:
                job = self._job(session)
                handle_lost_worker(session, redis_client, self.job_id, job.attempt, 99, NOTIFY)

        @invariant()
        def consistent(self):
            with property_db.read() as session:
                job = self._job(session)
                moves = session.scalars(select(JobTransition).where(
                    JobTransition.job_id == self.job_id).order_by(JobTransition.id)).all()
                hooks = session.scalars(select(WebhookDelivery).where(
                    WebhookDelivery.job_id == self.job_id, WebhookDelivery.kind == "status")
                    .order_by(WebhookDelivery.id)).all()
            for move in moves[1:]:
                assert JobStatus(move.to_status) in ALLOWED[JobStatus(move.from_status)]
            assert moves[-1].to_status == job.status
            types = [hook.payload["statusType"] for hook in hooks]
            assert types == [JobStatus(m.to_status).status_type for m in moves]
            if self.terminal_seen:
                assert job.status == self.terminal_seen  # absorbing
            if JobStatus(job.status) in TERMINAL:
                self.terminal_seen = job.status
                if job.status != "completed":
                    assert hooks[-1].payload["failureMessage"]

    JobLifecycle.TestCase.settings = settings(
        max_examples=40, stateful_step_count=15, deadline=None,
        suppress_health_check=[HealthCheck.too_slow])
    JobLifecycle.TestCase().runTest()
