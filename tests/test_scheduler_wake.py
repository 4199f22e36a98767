"""Which pools a scheduler cycle plans: those woken for, first; every pool once a tick passed.

A real Scheduler on the suite's database and a Redis database of its own (no other scheduler
places there); hosts are registered there exactly as `trainq worker` registers them, and the
jobs live in pools no other test uses, so the suite's own scheduler never has a host for them."""
from __future__ import annotations

import os
import secrets
import time

import pytest
import redis as redis_lib
from sqlalchemy import delete, select

from app.models import Job
from app.models.base import utcnow
from app.placer.service import Scheduler
from app.runtime import Runtime
from config.keys import EVERY_POOL, SCHEDULER_DIRTY, SENTINEL_KEY
from config.settings import Settings
from tests.conftest import REDIS_URL
from workers.allocations import wake_scheduler
from workers.host import Host
from workers.hosts import register

pytestmark = pytest.mark.e2e
WAKE_REDIS_URL = os.environ.get("TRAINQ_TEST_WAKE_REDIS_URL",
                                REDIS_URL.rsplit("/", 1)[0] + "/9")
POOLS = ("wake-a", "wake-b", "wake-c")


@pytest.fixture
def scheduler(stack_env, migrated):
    env = {key: value for key, value in stack_env.items() if not key.startswith("TRAINQ_SPEC")}
    env.update(TRAINQ_REDIS_URL=WAKE_REDIS_URL,
               TRAINQ_POOLS=",".join(f"{pool}=1" for pool in POOLS))
    runtime = Runtime(Settings.from_env(env))
    redis = redis_lib.Redis.from_url(WAKE_REDIS_URL, decode_responses=True)
    redis.flushdb()
    redis.set(SENTINEL_KEY, "1")   # a Redis that has not lost its data
    for pool in POOLS:
        register(redis, Host(pool, ("0",), None, f"{pool}-host", slots=1))
    scheduler = Scheduler(runtime)
    try:
        yield scheduler
    finally:
        with runtime.db.write() as session:
            session.execute(delete(Job).where(Job.pool.in_(POOLS)))
        redis.flushdb()
        redis.close()
        scheduler.redis.close()
        runtime.close()


def _queue(scheduler, pool: str) -> str:
    job = Job(id=f"job-{secrets.token_hex(8)}", name="wake", framework="pytorch",
              script_path="x.py", cpu=1, memory=1, gpu=1, priority=5, pool=pool,
              queue=f"train.{pool}.p05", status="queued", attempt=1, args=[], envs={},
              created_at=utcnow(), workspace_id=1)
    with scheduler.runtime.db.write() as session:
        session.add(job)
    return job.id


def _placed(scheduler, job_ids: list[str]) -> set[str]:
    with scheduler.runtime.db.read() as session:
        rows = session.scalars(select(Job.id).where(Job.id.in_(job_ids),
                                                    Job.published_at.is_not(None)))
        return set(rows)


def _lead(scheduler) -> int:
    epoch = scheduler.leadership.hold()
    assert epoch is not None
    scheduler._last_full = time.monotonic()   # a full pass just ran: only wake-ups are due
    return epoch


def test_a_wake_up_for_one_pool_places_there_and_leaves_the_others_to_the_tick(scheduler):
    epoch = _lead(scheduler)
    jobs = {pool: _queue(scheduler, pool) for pool in POOLS}
    wake_scheduler(scheduler.redis, "wake-a")
    due = scheduler._due()
    assert due == {"wake-a"}
    assert scheduler.cycle(epoch, due) == 1
    assert _placed(scheduler, list(jobs.values())) == {jobs["wake-a"]}
    assert scheduler._due() == set()   # the wake-up was used up

    scheduler._last_full -= scheduler.settings.scheduler_interval_seconds
    assert scheduler._due() is None   # the tick: every pool
    assert scheduler.cycle(epoch, None) == 2
    assert _placed(scheduler, list(jobs.values())) == set(jobs.values())


def test_a_wake_up_that_names_no_pool_plans_every_pool(scheduler):
    _lead(scheduler)
    wake_scheduler(scheduler.redis)
    assert scheduler.redis.smembers(SCHEDULER_DIRTY) == {EVERY_POOL}
    assert scheduler._due() is None


def test_a_pass_over_every_pool_serves_a_pool_woken_meanwhile_next(scheduler, monkeypatch):
    epoch = _lead(scheduler)
    planned, real = [], scheduler._cycle_pool

    def cycle_pool(pool, epoch, hosts=None):
        planned.append(pool)
        if pool == "wake-a" and planned.count(pool) == 1:
            wake_scheduler(scheduler.redis, "wake-c")   # a submission while wake-a is planned
        return real(pool, epoch, hosts)

    monkeypatch.setattr(scheduler, "_cycle_pool", cycle_pool)
    scheduler.cycle(epoch, None)
    # (pools of other tests' queued jobs, if any, sort before these)
    first = planned.index("wake-a")
    assert planned[first:first + 3] == ["wake-a", "wake-c", "wake-b"]   # not behind wake-b
    assert planned.count("wake-c") == 1


def test_an_any_pool_wake_up_during_a_pass_asks_for_another_pass(scheduler, monkeypatch):
    epoch = _lead(scheduler)
    real = scheduler._cycle_pool

    def cycle_pool(pool, epoch, hosts=None):
        if pool == "wake-b":
            wake_scheduler(scheduler.redis)   # GPUs freed somewhere, maybe in wake-a
        return real(pool, epoch, hosts)

    monkeypatch.setattr(scheduler, "_cycle_pool", cycle_pool)
    scheduler.cycle(epoch, None)
    assert scheduler._due() is None
