"""The metrics route's step read: a job with 100,000 steps, downsampled to 1,000 points for a
chart (issue 12's target: p99 at most 50 ms)."""
from __future__ import annotations

import gc
import statistics
import time
import uuid

from app import schema
from app.db import Database
from app.models import Job, Workspace
from app.models.base import utcnow
from app.services.events import apply_event
from app.services.steps import curve
from config.protocol import EventKind

_CHUNK = 500  # steps per event: a full batch of the worker's OutputShipper


def measure(database_url: str, steps: int = 100_000, reads: int = 200) -> dict:
    """Seed one job with `steps` steps into the (scratch) database at `database_url`, then time
    `reads` reads of its curve at ?points=1000 as the route makes them (a session each).

    p50/p99: with the objects that exist before the reads frozen out of the garbage collector,
    so the figures are the read's own; gc_p99: the same reads without that, where a full
    collection of this process (tens of ms on two cores) lands in about one read in fifty."""
    db = Database(database_url)
    schema.upgrade(db)
    try:
        job_id = _scratch_job(db)
        with db.write() as session:
            seed_steps(session, session.get(Job, job_id), range(steps))
        with_gc = [_timed_read(db, job_id, steps) for _ in range(reads)]
        gc.collect()
        gc.freeze()
        try:
            frozen = [_timed_read(db, job_id, steps) for _ in range(reads)]
        finally:
            gc.unfreeze()
    finally:
        db.dispose()
    return {"steps": steps, "reads": reads, **_percentiles("", frozen),
            **_percentiles("gc_", with_gc)}


def _percentiles(prefix: str, seconds: list[float]) -> dict:
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return {f"{prefix}p50_ms": round(cuts[49] * 1000, 2),
            f"{prefix}p99_ms": round(cuts[98] * 1000, 2)}


def seed_steps(session, job: Job, steps) -> None:
    """`steps` (step numbers) of the job's current attempt, written as the consumer writes
    them: applied as `steps` events of 500, as a worker ships them."""
    steps = list(steps)
    for start in range(0, len(steps), _CHUNK):
        data = {"steps": [{"step": step, "values": {"loss": 1.0 / (step + 1), "lr": 3e-4}}
                          for step in steps[start:start + _CHUNK]]}
        apply_event(session, {"job_id": job.id, "attempt": str(job.attempt),
                              "kind": EventKind.STEPS, "ts": repr(time.time()), "data": data},
                    notify_url="")


def _timed_read(db: Database, job_id: str, steps: int) -> float:
    start = time.perf_counter()
    with db.read() as session:
        got = curve(session, job_id, 1000)
    elapsed = time.perf_counter() - start
    assert got.total == steps and len(got.points) <= 1000, (got.total, len(got.points))
    return elapsed


def _scratch_job(db: Database) -> str:
    tag = uuid.uuid4().hex[:16]
    with db.write() as session:
        workspace = Workspace(name=f"bench-steps-{tag}")
        session.add(workspace)
        session.flush()
        session.add(Job(id=f"job-{tag}", name="bench steps", framework="pytorch",
                        script_path="x.py", cpu=1, memory=1, gpu=0, priority=5, pool="cpu",
                        queue="train.cpu.p05", status="completed", attempt=1, args=[], envs={},
                        created_at=utcnow(), workspace_id=workspace.id))
    return f"job-{tag}"
