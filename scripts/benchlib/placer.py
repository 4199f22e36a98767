"""The placer's cycle at cluster scale: N pending jobs and H simulated hosts.

The hosts speak the real protocol: each is registered in Redis exactly as `trainq worker`
registers its host (workers.hosts.register), and the scheduler reserves GPUs on them with the
same Lua reservation and sends each placed job to its host's Celery queue (no worker reads it).
The first cycle fills the hosts; the cycles timed after it are the steady state of a busy
cluster: read every host and every pending job, plan (best fit + EASY backfill), reserve and
send. After each cycle, timed apart: its upkeep, which the scheduler does after the cycle's
placements are sent, at most twice a second a pool: a preemption for a job that waited too
long, the queue board (every waiting job's position, reason and ETA from a forward plan), the
sweep's share of the allocations.
Its floor: the snapshot read alone, without the scheduler's cache of pending jobs."""
from __future__ import annotations

import gc
import random
import secrets
import time
from datetime import timedelta

from scripts.benchlib.stats import percentiles_ms

#: A mix of sizes, as research/scheduling.md's traces: mostly small jobs, some whole hosts.
SIZES = (1, 1, 1, 1, 2, 2, 2, 4, 4, 8)
GPUS_PER_HOST = 8


def measure(settings, pending: int = 10_000, hosts: int = 500, cycles: int = 30) -> dict:
    """p50/p99 ms of a steady-state cycle; `settings` point at a migrated scratch database and
    a scratch Redis database (both are filled here and left to the caller to drop)."""
    from app.placer.service import Scheduler
    from app.placer.snapshot import take
    from app.runtime import Runtime
    from config.keys import SENTINEL_KEY

    runtime = Runtime(settings)
    try:
        _insert_pending(runtime, pending)
        scheduler = Scheduler(runtime)
        scheduler.redis.set(SENTINEL_KEY, "1")   # a Redis that has not lost data
        _register_hosts(scheduler.redis, hosts)
        epoch = scheduler.leadership.hold()
        placed = _fill(scheduler, epoch, hosts)   # not the steady state: not timed
        _start_placed(runtime)   # as their hosts would: the running jobs are training
        gc.collect()
        gc.freeze()   # as `trainq scheduler` does after its start (app/placer/service.py)
        times, boards, reads = [], [], []
        for _ in range(cycles):
            _register_hosts(scheduler.redis, hosts)   # their heartbeats, between cycles
            scheduler.upkeep.published.clear()   # every pool's upkeep is due: each is timed
            started = time.perf_counter()
            scheduler.cycle(epoch)
            times.append(time.perf_counter() - started)
            started = time.perf_counter()
            scheduler.upkeep.run()
            boards.append(time.perf_counter() - started)
            started = time.perf_counter()
            with runtime.db.read() as session:
                take(session, scheduler.redis, settings.lease_seconds, time.time())
            reads.append(time.perf_counter() - started)
        scheduler.redis.close()
    finally:
        runtime.close()
    return {"pending": pending, "hosts": hosts, "placed_before": placed, "cycles": cycles,
            **percentiles_ms("cycle", times), **percentiles_ms("upkeep", boards),
            **percentiles_ms("snapshot", reads)}


def _fill(scheduler, epoch: int, hosts: int) -> int:
    """Cycle until a cycle places nothing (each places at most its planning depth)."""
    placed = total = scheduler.cycle(epoch)
    while placed:
        _register_hosts(scheduler.redis, hosts)
        placed = scheduler.cycle(epoch)
        total += placed
    return total


def _start_placed(runtime) -> None:
    """What the consumer records when a placed job's script starts: status training and its
    attempt's start (GPUs, host), so the cycles see a busy cluster's running jobs."""
    from sqlalchemy import insert, select, update

    from app.models import Job, JobAttempt
    from app.models.base import utcnow

    now = utcnow()
    with runtime.db.write() as session:
        placed = list(session.scalars(select(Job.id).where(Job.published_at.is_not(None))))
        for first in range(0, len(placed), 500):
            ids = placed[first:first + 500]
            session.execute(update(Job).where(Job.id.in_(ids))
                            .values(status="training", started_at=now))
            session.execute(insert(JobAttempt), [{"job_id": job_id, "number": 1,
                                                  "started_at": now} for job_id in ids])


def _insert_pending(runtime, count: int) -> None:
    from sqlalchemy import insert

    from app.models import Job
    from app.models.base import utcnow

    rng, now = random.Random(7), utcnow()
    rows = [{"id": f"job-{secrets.token_hex(8)}", "name": f"sim-{i}", "workspace_id": 1,
             "framework": "pytorch", "script_path": "train.py", "args": [], "envs": {},
             "cpu": 1, "memory": 1 << 30, "gpu": rng.choice(SIZES),
             "priority": rng.randint(1, 9), "pool": "gpu", "queue": "train.gpu.p05",
             "status": "queued", "attempt": 1, "created_at": now - timedelta(seconds=count - i),
             "updated_at": now, "max_running_time_ms": rng.choice((None, 3_600_000))}
            for i in range(count)]
    with runtime.db.write() as session:
        for first in range(0, count, 2000):
            session.execute(insert(Job), rows[first:first + 2000])


def _register_hosts(redis, count: int) -> None:
    from workers.host import Host
    from workers.hosts import register

    gpus = tuple(str(i) for i in range(GPUS_PER_HOST))
    for i in range(count):
        register(redis, Host("gpu", gpus, None, f"sim-host-{i:03d}", slots=GPUS_PER_HOST))

