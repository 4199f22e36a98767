"""`trainq scheduler`: lead (or stand by); each cycle place what fits, and after it, at most
twice a second a pool, preempt for a job that waited too long, publish every waiting job's
position and ETA, and give back GPUs nobody will give back."""
from __future__ import annotations

import gc
import logging
import signal
import threading
import time
from datetime import datetime, timezone

import redis as redis_lib
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from app.models import Job
from app.placer import explain
from app.placer.dispatch import Dispatcher, LostLeadership
from app.placer.leader import Leadership
from app.placer.preemption import Preemptor
from app.placer.snapshot import Kept, PoolView, Snapshot, every_pool, take
from app.placer.upkeep import Upkeep
from app.runtime import Runtime
from app.scheduler.policy import plan
from app.services.publishing import mark_published
from config.keys import EVERY_POOL, SCHEDULER_DIRTY, SCHEDULER_WAKE, SENTINEL_KEY
from workers.hosts import read_hosts

log = logging.getLogger(__name__)
#: How often a standby asks for the lock: it takes over within the lock's TTL plus this.
STANDBY_POLL_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 10.0


class Scheduler:
    def __init__(self, runtime: Runtime):
        self.runtime, self.settings = runtime, runtime.settings
        # Its own client: BLPOP waits longer than the API's short socket timeout allows.
        self.redis = redis_lib.Redis.from_url(self.settings.redis_url, socket_timeout=30,
                                              socket_connect_timeout=5, decode_responses=True)
        self.leadership = Leadership(self.redis, self.settings.scheduler_lock_seconds)
        self.dispatcher = Dispatcher(runtime, self.redis, self.settings.lease_seconds)
        self.preemptor = Preemptor(runtime, self.redis)
        self.kept = Kept()   # pending and running jobs as its last cycles read them
        self.upkeep = Upkeep(runtime, self.redis, self.preemptor, self.kept)
        self.stopping = threading.Event()
        self.epoch: int | None = None
        self._announced = False
        self.data_lost_at: float | None = None
        self._last_full = float("-inf")   # monotonic time of the last pass over every pool
        self._tick_seconds = self.settings.scheduler_interval_seconds

    def run(self) -> None:
        failures = 0
        while not self.stopping.is_set():
            try:
                self.step()
                failures = 0
            except (RedisError, SQLAlchemyError) as exc:
                failures += 1
                delay = min(MAX_BACKOFF_SECONDS, 0.5 * 2 ** failures)
                log.warning("scheduler cycle failed (%s); retrying in %.1fs", exc, delay)
                self.stopping.wait(delay)
        if self.epoch is not None:
            self._resign()

    def step(self) -> None:
        """Lead one cycle, or wait as standby."""
        epoch = self.leadership.hold()
        self._announce(epoch)
        if epoch is None:
            self.stopping.wait(STANDBY_POLL_SECONDS)
            return
        try:
            self.cycle(epoch, self._due())
        except LostLeadership as exc:
            log.warning("lost the lead mid-cycle (%s); standing by", exc)
            self.epoch = None
            self.upkeep.forget()
            return
        self.upkeep.run()
        self._wait_for_wake()

    def cycle(self, epoch: int, pools: set[str] | None = None) -> int:
        """Place what fits in `pools`, or in every pool (None); returns how many it placed."""
        if self._holding_after_data_loss():
            return 0
        if pools is not None:
            return sum(self._cycle_pool(pool, epoch) for pool in sorted(pools))
        self._last_full = time.monotonic()
        return self._every_pool(epoch)

    def _every_pool(self, epoch: int) -> int:
        """One pool at a time; between two, the pools woken for meanwhile go first, so a
        submission waits for one pool's plan, not for every pool's."""
        hosts = read_hosts(self.redis)
        with self.runtime.db.read() as session:
            todo = every_pool(session, hosts[1], (pool.name for pool in self.settings.pools))
        placed, again = 0, False
        while todo:
            placed += self._cycle_pool(todo.pop(0), epoch, hosts)
            woken = self._take_woken()
            if woken is None:
                again = True   # some pool changed, maybe one this pass already planned
            elif woken:
                placed += sum(self._cycle_pool(pool, epoch) for pool in sorted(woken))
                todo = [pool for pool in todo if pool not in woken]
        if again:
            self.redis.sadd(SCHEDULER_DIRTY, EVERY_POOL)
        return placed

    def _cycle_pool(self, pool: str, epoch: int, hosts=None) -> int:
        now = time.time()
        with self.runtime.db.read() as session:
            snapshot = take(session, self.redis, self.settings.lease_seconds, now, pool, hosts,
                            self.kept)
        view = snapshot.pools.get(pool, PoolView())
        placed = self._place_pool(pool, view, snapshot, epoch)
        if placed:
            mark_published(self.runtime, placed, datetime.fromtimestamp(now, tz=timezone.utc))
        return len(placed)

    def _due(self) -> set[str] | None:
        """The pools to plan now: every pool (None) once a tick has passed since the last full
        pass, or when a wake-up named none; else the pools woken for."""
        woken = self._take_woken()
        if woken is None or time.monotonic() - self._last_full >= self._tick_seconds:
            return None
        return woken

    def _take_woken(self) -> set[str] | None:
        """The pools woken for since the last look, emptied (None: any pool may have changed)."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.smembers(SCHEDULER_DIRTY)
        pipe.delete(SCHEDULER_DIRTY)
        woken = pipe.execute()[0]
        return None if EVERY_POOL in woken else set(woken)

    def _place_pool(self, pool: str, view: PoolView, snapshot: Snapshot,
                    epoch: int) -> list[tuple[str, int]]:
        """Jobs whose held GPUs are free first, then the plan of everyone else. What the pool
        owes the jobs left waiting (its queue board, a preemption for one that waited too long)
        is left for its upkeep (upkeep.py), after the cycle."""
        holds = self.preemptor.holds(pool, view, snapshot.now)
        placed = self._commit(self.preemptor.ready(view, holds), snapshot, epoch)
        others = self.preemptor.hide(view, holds)
        decided = plan(snapshot.now, others.hosts, others.running, others.pending,
                       aging_seconds=self.settings.aging_seconds, quotas=snapshot.quotas,
                       explain=False)
        placed += self._commit(decided.placements, snapshot, epoch)
        if self.upkeep.is_due(pool, snapshot.now):
            self.upkeep.leave(pool, explain.PoolWork(view, others, holds, snapshot, decided,
                                                     frozenset(job_id for job_id, _ in placed)))
        return placed

    def _commit(self, placements, snapshot: Snapshot, epoch: int) -> list[tuple[str, int]]:
        placed = []
        jobs = self._jobs([p.job_id for p in placements], snapshot)
        for placement in placements:
            job = jobs.get(placement.job_id)
            if job is not None and self.dispatcher.commit(job, placement, epoch):
                placed.append((job.id, job.attempt))
        return placed

    def _jobs(self, ids: list[str], snapshot: Snapshot) -> dict[str, Job]:
        """The placed jobs, still queued at the attempt the snapshot saw (a stop meanwhile
        removes one: it is not sent)."""
        if not ids:
            return {}
        with self.runtime.db.read() as session:
            rows = session.scalars(select(Job).where(Job.id.in_(ids), Job.status == "queued"))
            return {job.id: job for job in rows if job.attempt == snapshot.attempts.get(job.id)}

    def _holding_after_data_loss(self) -> bool:
        """No sentinel: Redis lost its data, and with it the record of which GPUs running jobs
        hold. Place nothing for two heartbeats, so every live worker re-asserts its allocation
        first; then every queued job (the database still has them all) is placed again."""
        if self.redis.exists(SENTINEL_KEY):
            return False
        now = time.monotonic()
        if self.data_lost_at is None:
            self.data_lost_at = now
            log.warning("Redis has no trainq sentinel (new, flushed or restarted without "
                        "persistence): waiting for running jobs to re-assert their GPUs")
        if now - self.data_lost_at < 2 * self.settings.heartbeat_seconds + 1:
            return True
        self.redis.set(SENTINEL_KEY, "1")
        self.data_lost_at = None
        return False

    def _wait_for_wake(self) -> None:
        """Until a wake-up, or the next tick (aging, ETAs and preemption move with the clock)."""
        left = self._tick_seconds - (time.monotonic() - self._last_full)
        self.redis.blpop([SCHEDULER_WAKE], timeout=max(0.01, left))

    def _announce(self, epoch: int | None) -> None:
        if epoch != self.epoch or not self._announced:
            self._announced = True
            if epoch is None:
                log.info("standing by: %s leads", self.leadership.leader())
            else:
                log.info("leading with epoch %d", epoch)
            self.epoch = epoch

    def _resign(self) -> None:
        try:
            self.leadership.resign()
        except RedisError:
            pass

    def stop(self) -> None:
        self.stopping.set()


def run_scheduler(settings) -> int:
    # force: whatever configured logging on import, these lines carry their time.
    logging.basicConfig(level=settings.log_level, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    runtime = Runtime(settings)
    scheduler = Scheduler(runtime)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: scheduler.stop())
    log.info("scheduler %s starting", scheduler.leadership.holder)
    # What start-up built (modules, the mapper, the policy's code) lives as long as the process:
    # frozen, a full collection walks only what cycles made. Unfrozen, with 10,000 jobs queued
    # one cycle in ten paid a full collection of about 100 ms (scripts/benchlib/placer.py).
    gc.collect()
    gc.freeze()
    try:
        scheduler.run()
    finally:
        scheduler.redis.close()
        runtime.close()
    return 0
