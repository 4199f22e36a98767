"""What the scheduler keeps or spreads between cycles so that a cycle stays short with
thousands queued: its cache of pending jobs, the sweep spread over its interval, and the queue
board published as one document. A real database and a Redis database of their own."""
from __future__ import annotations

import os
import secrets
import time
from datetime import timedelta

import pytest
import redis as redis_lib
from sqlalchemy import delete, update

from app.models import Job
from app.models.base import utcnow
from app.placer import board
from app.placer.pending import PendingCache
from app.placer.sweep import Sweep
from app.runtime import Runtime
from app.scheduler.model import QueueEntry, Reason
from config.keys import ALLOCATIONS_SET, SCHEDULER_EPOCH
from config.protocol import Allocation, InstanceAssignment
from config.settings import Settings
from tests.conftest import REDIS_URL
from workers import allocations
from workers.host import Host
from workers.hosts import register

pytestmark = pytest.mark.e2e
CACHE_REDIS_URL = os.environ.get("TRAINQ_TEST_CACHE_REDIS_URL",
                                 REDIS_URL.rsplit("/", 1)[0] + "/8")
POOL = "cache-a"


@pytest.fixture
def runtime(stack_env, migrated):
    env = {key: value for key, value in stack_env.items() if not key.startswith("TRAINQ_SPEC")}
    env.update(TRAINQ_REDIS_URL=CACHE_REDIS_URL, TRAINQ_POOLS=f"{POOL}=8")
    runtime = Runtime(Settings.from_env(env))
    runtime.redis.flushdb()
    try:
        yield runtime
    finally:
        with runtime.db.write() as session:
            session.execute(delete(Job).where(Job.pool == POOL))
        runtime.redis.flushdb()
        runtime.close()


def _queue(runtime, gpus: int = 1, **fields) -> str:
    job = Job(id=f"job-{secrets.token_hex(8)}", name="cache", framework="pytorch",
              script_path="x.py", cpu=1, memory=1, gpu=gpus, priority=5, pool=POOL,
              queue=f"train.{POOL}.p05", status="queued", attempt=1, args=[], envs={},
              created_at=utcnow(), workspace_id=1, **fields)
    with runtime.db.write() as session:
        session.add(job)
    return job.id


def _read(runtime, cache: PendingCache, placed=frozenset()) -> dict[str, tuple[int, int]]:
    with runtime.db.read() as session:
        return {job.id: (attempt, job.gpus)
                for attempt, _pool, job in cache.read(session, time.time(), set(placed), POOL)}


def test_the_cache_follows_the_queue_and_rereads_a_new_attempt(runtime):
    cache = PendingCache()
    kept, started, requeued = _queue(runtime), _queue(runtime), _queue(runtime, gpus=2)
    later = _queue(runtime, not_before=utcnow() + timedelta(hours=1))   # a retry's delay
    assert _read(runtime, cache) == {kept: (1, 1), started: (1, 1), requeued: (1, 2)}
    with runtime.db.write() as session:
        session.execute(update(Job).where(Job.id == started).values(status="training"))
        # A new attempt is a new picture of the job: read again, not taken from the cache.
        session.execute(update(Job).where(Job.id == requeued).values(attempt=2, gpu=4))
    added = _queue(runtime, gpus=8)
    assert _read(runtime, cache) == {kept: (1, 1), requeued: (2, 4), added: (1, 8)}
    assert _read(runtime, cache, placed={kept}) == {requeued: (2, 4), added: (1, 8)}
    assert later not in _read(runtime, PendingCache())


def _allocate(redis, count: int) -> list[Allocation]:
    """`count` one-GPU allocations on one host, for attempts no job has (they are over)."""
    register(redis, Host(POOL, tuple(str(i) for i in range(8)), None, "cache-host", slots=8))
    redis.set(SCHEDULER_EPOCH, 1)
    made = [Allocation(f"job-{i:016x}", 1, 1, (InstanceAssignment(0, "cache-host", (str(i),)),))
            for i in range(count)]
    for allocation in made:
        assert allocations.reserve(redis, allocation, 60) == allocations.RESERVED
    return made


def test_a_spread_sweep_gives_everything_back_within_one_interval(runtime):
    redis = redis_lib.Redis.from_url(CACHE_REDIS_URL, decode_responses=True)
    try:
        _allocate(redis, 5)
        sweep = Sweep(runtime, redis)
        freed = [sweep.run_part(0.2) for _ in range(5)]   # five cycles, a fifth of an interval each
        assert freed == [1, 1, 1, 1, 1] and redis.zcard(ALLOCATIONS_SET) == 0
        assert sweep.run_part(1.0) == 0
    finally:
        redis.close()


def test_a_spread_sweep_keeps_what_is_still_held(runtime):
    redis = redis_lib.Redis.from_url(CACHE_REDIS_URL, decode_responses=True)
    try:
        made = _allocate(redis, 4)
        live = made[1]
        ids = [a.job_id for a in made]
        for job_id in ids:   # one job still queued at its attempt: not over, kept
            with runtime.db.write() as session:
                session.add(Job(id=job_id, name="s", framework="pytorch", script_path="x.py",
                                cpu=1, memory=1, gpu=1, priority=5, pool=POOL, queue="q",
                                status="queued" if job_id == live.job_id else "completed",
                                attempt=1, args=[], envs={}, created_at=utcnow(),
                                workspace_id=1))
        sweep = Sweep(runtime, redis)
        assert sum(sweep.run_part(0.5) for _ in range(2)) == 3
        assert redis.zrange(ALLOCATIONS_SET, 0, -1) == [f"{live.job_id}|1"]
        assert allocations.current(redis, live.job_id, 1) == live
    finally:
        redis.close()


def test_the_board_answers_position_reason_and_who_is_ahead(runtime):
    redis = runtime.redis
    queue = tuple(QueueEntry(f"job-{i}", i + 1, Reason.BEHIND_HIGHER_PRIORITY, f"{i} ahead",
                             None if i else 12.5, "plan") for i in range(3))
    board.publish(redis, POOL, queue, 1000.0, "2 running from epoch times")
    third = board.read(redis, POOL, "job-2")
    assert (third.position, third.reason, third.message, third.ahead) == \
        (3, "behind_higher_priority", "2 ahead", ("job-0", "job-1"))
    assert third.eta_basis == "plan" and third.planned_at == 1000.0   # no ETA: no note
    assert board.read(redis, POOL, "job-0").eta_basis == "plan (2 running from epoch times)"
    assert board.read(redis, POOL, "job-9") is None
    board.publish(redis, POOL, (), 1001.0, "")
    assert board.read(redis, POOL, "job-0") is None


def test_running_jobs_ends_are_read_once_then_refreshed_by_the_upkeep(runtime):
    from app.models import JobAttempt, JobMetric
    from app.placer.running import RunningCache

    job_id = _queue(runtime, max_running_time_ms=600_000)
    started = utcnow() - timedelta(seconds=100)
    with runtime.db.write() as session:
        session.execute(update(Job).where(Job.id == job_id).values(status="training"))
        session.add(JobAttempt(job_id=job_id, number=1, started_at=started))
    cache, now = RunningCache(), time.time()
    with runtime.db.read() as session:
        ends, owners = cache.read(session, {job_id}, now, POOL)
    assert ends[job_id] == (pytest.approx(started.timestamp() + 600), "time_limit")
    assert owners == {job_id: "1"}
    with runtime.db.write() as session:   # epoch 1 of 10 after 100 s: 900 s to go
        session.add(JobMetric(job_id=job_id, attempt=1, epoch=1, total_epochs=10,
                              reported_at=started + timedelta(seconds=100)))
    with runtime.db.read() as session:
        assert cache.read(session, {job_id}, now, POOL)[0] == ends   # kept: not read again
        cache.refresh(session, {job_id}, now, POOL)
        fresh, _ = cache.read(session, {job_id}, now, POOL)
    assert fresh[job_id] == (pytest.approx(started.timestamp() + 1000), "epochs")
    with runtime.db.read() as session:
        cache.refresh(session, set(), now, POOL)   # it ended: forgotten
        assert cache.read(session, set(), now, POOL) == ({}, {})
