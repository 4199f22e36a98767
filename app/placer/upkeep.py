"""A pool's upkeep, after a scheduling cycle's placements are sent: what is due of the rest,
each from the picture and plan the pool's cycle placed by. For each pool at most every
UPKEEP_PERIOD_SECONDS: the running jobs' expected ends read again (running.py), a preemption
for a job that waited too long (preemption.py) and the queue board (explain.py); and each
time, the sweep's share of the allocations (sweep.py).

None of it starts a job now, and explaining is most of a plan's work with thousands queued, so
no placement waits for it (Slurm likewise leaves its expected start times to a periodic
backfill pass)."""
from __future__ import annotations

import time

from app.placer import explain
from app.placer.preemption import Preemptor
from app.placer.snapshot import Kept
from app.placer.sweep import Sweep

#: A busy pool is re-planned at every job's end; its published queue (positions, ETAs) needs
#: no more than a couple of refreshes a second, and preemption waits for jobs that waited
#: minutes (TRAINQ_PREEMPT_AFTER_SECONDS): both are a pool's upkeep, at most this often.
UPKEEP_PERIOD_SECONDS = 0.5


class Upkeep:
    def __init__(self, runtime, redis, preemptor: Preemptor, kept: Kept):
        self.runtime, self.redis, self.settings = runtime, redis, runtime.settings
        self.preemptor, self.kept = preemptor, kept
        self.sweep = Sweep(runtime, redis)
        self.published: dict[str, float] = {}   # pool -> when its plan was last published
        self._due: dict[str, explain.PoolWork] = {}   # pool -> what its last cycle saw
        self._last_sweep = float("-inf")   # the first upkeep sweeps everything

    def is_due(self, pool: str, now: float) -> bool:
        return now - self.published.get(pool, 0.0) >= UPKEEP_PERIOD_SECONDS

    def leave(self, pool: str, work: explain.PoolWork) -> None:
        """The pool's latest cycle, for the next run() (a later cycle of it replaces it)."""
        self._due[pool] = work

    def forget(self) -> None:
        """Leadership was lost: what was left is another scheduler's to do."""
        self._due.clear()

    def run(self) -> None:
        while self._due:
            pool, work = self._due.popitem()
            snapshot = work.snapshot
            with self.runtime.db.read() as session:
                self.kept.running.refresh(session, {job.id for job in work.view.running},
                                          snapshot.now, pool)
            self.preemptor.consider(pool, work.others, work.decided, snapshot.now,
                                    snapshot.quotas)
            explain.publish(self.redis, self.preemptor, self.settings.aging_seconds, pool, work)
            self.published[pool] = snapshot.now
        self._sweep_part()   # what it gives back wakes the scheduler for its pool

    def _sweep_part(self) -> None:
        """The share of a sweep pass that the time since the last part is of the interval:
        every allocation is looked at once an interval, a little each time."""
        now = time.monotonic()
        share = (now - self._last_sweep) / max(0.001, self.settings.reaper_interval_seconds)
        self._last_sweep = now
        self.sweep.run_part(share)
