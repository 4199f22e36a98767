"""The stop flag in Redis follows the database: a stop that was not committed raises no flag,
and a committed stop whose flag was lost gets it back from the reconciler."""
from __future__ import annotations

import pytest
from sqlalchemy import update

from app.consumer.reconciler import Reconciler
from app.models import Job
from app.models.base import utcnow
from app.runtime import Runtime
from app.services import jobs
from config.keys import cancel_key

pytestmark = pytest.mark.e2e


@pytest.fixture
def runtime(settings, stack):
    runtime = Runtime(settings)
    yield runtime
    runtime.close()


def test_a_stop_whose_commit_fails_leaves_no_cancel_flag(api, runtime, redis_client,
                                                          monkeypatch):
    job_id = api.submit_ok(gpu=2)  # the idle pool has no worker: it stays queued

    def refused(*_args, **_kwargs):
        raise RuntimeError("the database refused the commit")

    monkeypatch.setattr(jobs, "transition", refused)
    with pytest.raises(RuntimeError):
        jobs.stop_job(runtime, job_id)
    assert not redis_client.exists(cancel_key(job_id))
    assert api.job(job_id)["status"] == "queued"
    monkeypatch.undo()
    jobs.stop_job(runtime, job_id)
    assert redis_client.exists(cancel_key(job_id))
    assert api.job(job_id)["status"] == "cancelled"


def test_the_reconciler_raises_a_lost_stop_flag_again(api, runtime, redis_client, release_dir):
    job_id = api.submit_ok(script_path="wait_for_file.py", args=[str(release_dir / "never"), "60"])
    api.wait_status(job_id, "training")
    with runtime.db.write() as session:  # a committed stop whose Redis write never happened
        session.execute(update(Job).where(Job.id == job_id).values(stop_requested_at=utcnow()))
    assert not redis_client.exists(cancel_key(job_id))
    Reconciler(runtime, redis_client).run_once()
    assert redis_client.exists(cancel_key(job_id))
    assert api.wait_terminal(job_id, timeout=30)["status"] == "cancelled"
