"""GET /jobs/{id}/queue on the live stack: position, who is ahead, why and when, from the running
scheduler's plan. The states a live scheduler makes racy to reach (no plan, placed, retry delay,
Redis down) are checked on the service with a Redis database no scheduler writes to."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest
import redis as redis_lib
from sqlalchemy import select

from app.errors import ServiceUnavailable
from app.models import Job, User
from app.models.base import utcnow
from app.services import queue_position
from config.keys import allocation_key
from config.protocol import Allocation, InstanceAssignment
from tests.conftest import REDIS_URL
from tests.faults.conftest import wait_until
from tests.test_events_replay import db  # noqa: F401 (db: the database fixture)
from tests.test_tenancy import PARKED, make_user, make_workspace

pytestmark = pytest.mark.e2e
#: Same server, another database: no scheduler publishes a plan or an allocation there.
UNPLANNED_REDIS_URL = REDIS_URL.rsplit("/", 1)[0] + "/11"
#: Other tests park priority-5 jobs in the host-less pool "idle"; 10 goes before all of them.
FIRST = 10


def _queue_url(job_id: str) -> str:
    return f"/api/v1/training/jobs/{job_id}/queue"


def queue(client, job_id: str) -> dict:
    response = client.request("GET", _queue_url(job_id))
    assert response.status_code == 200, response.text
    return response.json()["data"]


def settled(client, job_id: str, reason: str, position: int | None = None) -> dict:
    """The job's queue data once the scheduler's plan gives it `reason` (and `position`)."""
    def current():
        data = queue(client, job_id)
        return data if data["reason"] == reason and position in (None, data["position"]) else None
    return wait_until(current, timeout=30)


@contextmanager
def parked(client, count: int = 1, **overrides):
    """Jobs left queued in the pool without hosts, stopped when the block ends."""
    jobs = [client.submit_ok(**{**PARKED, "priority": FIRST, **overrides}) for _ in range(count)]
    try:
        yield jobs
    finally:
        for job_id in jobs:
            client.request("POST", f"/api/v1/training/jobs/{job_id}/stop")


@contextmanager
def blocker(api, release_dir, **limits):
    """A job holding gpu-test's only GPU until the block ends."""
    job_id = api.submit_ok(script_path="wait_for_file.py", gpu=1, priority=FIRST,
                           args=[str(release_dir / "go"), "60"], **limits)
    try:
        api.wait_status(job_id, "training")
        yield job_id
    finally:
        (release_dir / "go").touch()
        api.wait_terminal(job_id)


def test_a_job_in_a_pool_without_hosts_is_told_so(api):
    with parked(api, gpu=2) as (job_id,):
        data = settled(api, job_id, "no_host")
    assert (data["pool"], data["position"], data["eta_seconds"]) == ("idle", 1, None)
    assert data["ahead"] == {"ids": [], "others": 0}
    assert data["message"] and data["eta_basis"].startswith("unknown")


def test_higher_priority_goes_first_and_the_others_see_who_is_ahead(api, release_dir):
    with blocker(api, release_dir):   # no time limit: nobody knows when the GPU frees
        first, high, last = (api.submit_ok(script_path="show_env.py", gpu=1, priority=p)
                             for p in (3, 9, 3))
        tail = settled(api, last, "behind_higher_priority", position=3)
        head, middle = queue(api, high), queue(api, first)
    assert (head["position"], head["reason"], head["ahead"]) == \
        (1, "waiting_for_gpus", {"ids": [], "others": 0})
    assert (middle["position"], middle["reason"], middle["ahead"]["ids"]) == \
        (2, "behind_higher_priority", [high])
    assert tail["ahead"] == {"ids": [high, first], "others": 0}
    assert head["eta_seconds"] is None and head["eta_basis"].startswith("unknown")
    assert all(api.wait_terminal(j)["status"] == "completed" for j in (first, high, last))


def test_a_time_limit_on_the_running_job_gives_the_next_one_an_eta(api, release_dir):
    with blocker(api, release_dir, max_running_time_ms=60_000):
        waiting = api.submit_ok(script_path="show_env.py", gpu=1)
        data = settled(api, waiting, "waiting_for_gpus")
    assert 0 <= data["eta_seconds"] <= 60 and data["eta_basis"]
    assert api.wait_terminal(waiting)["status"] == "completed"


def test_a_finished_job_is_not_queued_and_an_unknown_one_is_404(api):
    done = api.submit_ok(script_path="show_env.py")
    api.wait_terminal(done)
    data = queue(api, done)
    assert (data["reason"], data["position"], data["eta_seconds"]) == ("not_queued", None, None)
    assert "completed" in data["message"]
    assert api.request("GET", _queue_url("job-0000000000000000")).status_code == 404


def test_jobs_ahead_in_other_workspaces_are_counted_not_named(api, stack):
    mine, theirs = make_workspace(api, "queue-mine"), make_workspace(api, "queue-theirs")
    me = make_user(api, stack, "queue-me", {mine["id"]: "manager"})
    them = make_user(api, stack, "queue-them", {theirs["id"]: "manager"})
    outsider = make_user(api, stack, "queue-out", {})
    with parked(them) as (their_job,), parked(me) as (my_job,):
        assert settled(me, my_job, "no_host", position=2)["ahead"] == {"ids": [], "others": 1}
        assert queue(api, my_job)["ahead"] == {"ids": [their_job], "others": 0}  # admin
        for client in (them, outsider):   # exactly as GET /jobs/{id} answers them
            refused = client.request("GET", _queue_url(my_job)).status_code
            assert refused == client.request("GET", f"/api/v1/training/jobs/{my_job}").status_code
            assert refused == 404


@pytest.fixture
def unplanned_redis():
    client = redis_lib.Redis.from_url(UNPLANNED_REDIS_URL, decode_responses=True)
    yield client
    client.close()


def _locate(db, redis, job_id: str) -> queue_position.QueuePosition:  # noqa: F811
    with db.read() as session:
        admin = session.scalars(select(User).where(User.username == "admin")).one()
        return queue_position.locate(redis, session, admin, job_id)


def test_without_a_fresh_plan_the_database_order_is_a_best_effort(api, db,  # noqa: F811
                                                                   unplanned_redis):
    with parked(api, count=2) as (earlier, later):
        found = _locate(db, unplanned_redis, later)
    assert (found.reason, found.position, found.eta_seconds) == ("not_planned", 2, None)
    assert found.ahead == queue_position.Ahead((earlier,), 0)
    assert found.message == ("the scheduler has not planned this pool recently; is `trainq "
                             "scheduler` running?")


def test_a_placed_job_is_starting_on_its_hosts(api, db, unplanned_redis):  # noqa: F811
    with parked(api) as (job_id,):
        key = allocation_key(job_id, 1)
        placed = Allocation(job_id, 1, 1, (InstanceAssignment(0, "gpu-x", ("0", "1")),))
        unplanned_redis.set(key, placed.to_wire())
        try:
            found = _locate(db, unplanned_redis, job_id)
        finally:
            unplanned_redis.delete(key)
    assert (found.reason, found.position, found.eta_seconds) == ("starting", None, 0)
    assert "gpu-x (GPUs 0, 1)" in found.message


def test_a_retry_waiting_out_its_delay_says_when_it_rejoins(api, db,  # noqa: F811
                                                            unplanned_redis):
    with parked(api) as (job_id,):
        with db.write() as session:
            session.get(Job, job_id).not_before = utcnow() + timedelta(seconds=30)
        found = _locate(db, unplanned_redis, job_id)
    assert (found.reason, found.position, found.eta_seconds) == ("retry_backoff", None, None)
    assert "joins the queue at" in found.message
    assert found.message.endswith(("(in 29 s)", "(in 30 s)"))


def test_redis_down_is_a_503_that_says_to_retry(api, db):  # noqa: F811
    down = redis_lib.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
    with parked(api) as (job_id,), pytest.raises(ServiceUnavailable, match="try again"):
        _locate(db, down, job_id)
