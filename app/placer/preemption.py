"""Preemption in the scheduler process: ask the cheapest victims to stop for a job that waited
too long, keep their GPUs for it (a hold) while they checkpoint and exit, and place it there
as soon as they are free. The choice itself is app.scheduler.preempt (pure)."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace

from app.placer.snapshot import PoolView
from app.placer.victims import candidates
from app.scheduler.model import (InstancePlacement, PendingJob, Placement, Plan, QueueEntry,
                                 Reason)
from app.scheduler.preempt import Candidate, Preemption, choose
from config.keys import holds_key, preempt_key
from config.protocol import PreemptRequest
from workers.claim import announce_stop

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hold:
    job_id: str
    host: str
    gpus: tuple[str, ...]
    until: float
    #: (host, GPUs) of a multi-host job's other instances, held the same way
    also: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def parts(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """(host, GPUs) of every instance, by host name."""
        return tuple(sorted(((self.host, self.gpus), *self.also)))

    def where(self) -> str:
        return " and ".join(f"{host} ({', '.join(gpus) or 'a slot'})" for host, gpus in self.parts)


class Preemptor:
    def __init__(self, runtime, redis):
        self.runtime, self.redis, self.settings = runtime, redis, runtime.settings

    def holds(self, pool: str, view: PoolView, now: float) -> list[Hold]:
        """The pool's live holds; expired ones, and those whose job is no longer waiting, go."""
        raw = self.redis.hgetall(holds_key(pool))
        waiting = {job.id for job in view.pending}
        live = [h for h in (_hold(job_id, text) for job_id, text in raw.items())
                if h.until > now and h.job_id in waiting]
        stale = set(raw) - {h.job_id for h in live}
        if stale:
            self.redis.hdel(holds_key(pool), *stale)
        return live

    def ready(self, view: PoolView, holds: list[Hold]) -> list[Placement]:
        """Holders whose kept GPUs are all free now (the victims are gone): place them there."""
        free = {host.name: host for host in view.hosts if host.schedulable}
        return [Placement(h.job_id, tuple(InstancePlacement(rank, host, gpus)
                                          for rank, (host, gpus) in enumerate(h.parts)))
                for h in holds if all(host in free and set(gpus) <= free[host].free_gpus
                                      and free[host].free_slots > 0 for host, gpus in h.parts)]

    def hide(self, view: PoolView, holds: list[Hold]) -> PoolView:
        """The pool as everyone else must plan it: held GPUs (and a slot) taken, holders out."""
        held = {h.job_id for h in holds}
        hosts = []
        for host in view.hosts:
            mine = [gpus for h in holds for name, gpus in h.parts if name == host.name]
            taken = {gpu for gpus in mine for gpu in gpus}
            hosts.append(replace(host, free_gpus=host.free_gpus - taken,
                                 free_slots=max(0, host.free_slots - len(mine))))
        return PoolView(hosts, view.running, [j for j in view.pending if j.id not in held])

    def queue(self, holds: list[Hold], decided: Plan, now: float) -> tuple[QueueEntry, ...]:
        """The pool's queue as published: holders first (the GPUs being freed are theirs),
        then the plan's entries behind them."""
        if not holds:
            return decided.queue   # the usual case: no renumbering of thousands of entries
        grace = self.settings.preempt_grace_seconds
        first = [QueueEntry(h.job_id, i + 1, Reason.PREEMPTING,
                            f"lower-priority jobs were asked to stop; {h.where()} "
                            "are kept for it", grace,
                            "preemption: the stopped jobs get TRAINQ_PREEMPT_GRACE_SECONDS to "
                            "checkpoint, at most")
                 for i, h in enumerate(holds)]
        return (*first, *(replace(e, position=e.position + len(first)) for e in decided.queue))

    def consider(self, pool: str, view: PoolView, decided: Plan, now: float,
                 quotas: dict[str, int]) -> None:
        """Preempt for the first job in queue order that waited long enough and can be helped
        (one preemption per pool per cycle: the next cycle sees its effect)."""
        waited = self._waited_long(view, decided, now)
        running = self._candidates(pool, view, now, quotas) if waited else []
        if not any(c.preemptible for c in running):
            return   # the usual case: nothing to look for, whatever the queue's length
        hopeless: set[tuple] = set()   # jobs alike (size, priority, quota standing) fare alike
        for job in waited:
            within = job.id not in decided.borrowing
            alike = (job.gpus, job.instances, job.priority, job.workspace, within)
            chosen = None if alike in hopeless else choose(job, view.hosts, running, within)
            if chosen is None:
                hopeless.add(alike)
            else:
                attempts = {c.job_id: c.attempt for c in running}
                self._preempt(pool, job, chosen, attempts, now)
                return

    def _waited_long(self, view: PoolView, decided: Plan, now: float) -> list[PendingJob]:
        """Blocked jobs, in queue order, that waited TRAINQ_PREEMPT_AFTER_SECONDS or more."""
        pending = {job.id: job for job in view.pending}
        after = self.settings.preempt_after_seconds
        return [pending[job_id] for job_id in decided.blocked if job_id in pending
                and now - pending[job_id].submitted_at >= after]

    def _candidates(self, pool: str, view: PoolView, now: float,
                    quotas: dict[str, int]) -> list[Candidate]:
        """Running jobs that may still be chosen: one asked to stop already is not asked again,
        nor counted as freeing its GPUs twice (they are held for another job)."""
        with self.runtime.db.read() as session:
            running = candidates(session, view.running, now, quotas, pool)
        if not running:
            return []
        # One MGET, not an EXISTS each: 1,600 running jobs cost 30 ms of commands otherwise.
        asked = self.redis.mget([preempt_key(c.job_id, c.attempt) for c in running])
        return [c for c, request in zip(running, asked) if request is None]

    def _preempt(self, pool: str, job: PendingJob, chosen: Preemption, attempts: dict[str, int],
                 now: float) -> None:
        grace = self.settings.preempt_grace_seconds
        request = PreemptRequest(f"job {job.id} (priority {job.priority}) needs its GPUs after "
                                 f"waiting {now - job.submitted_at:.0f}s", grace)
        keep = grace + 2 * self.settings.lease_seconds + 10
        pipe = self.redis.pipeline(transaction=True)
        for victim in chosen.victims:
            pipe.set(preempt_key(victim, attempts[victim]), request.to_wire(), ex=int(keep))
        hold = {"host": chosen.host, "gpus": list(chosen.gpus), "until": now + keep,
                "also": [[host, list(gpus)] for host, gpus in chosen.placed[1:]]}
        pipe.hset(holds_key(pool), job.id, json.dumps(hold))
        pipe.execute()
        # Not in the transaction: a refused PUBLISH would abort it, and the keys are the stop.
        announce_stop(self.redis, "preempt", *chosen.victims)
        log.warning("preempting %s on %s for %s (%.0f GPU-seconds of work lost since their "
                    "last checkpoints)", ", ".join(chosen.victims),
                    " + ".join(host for host, _ in chosen.placed), job.id,
                    chosen.lost_gpu_seconds)


def _hold(job_id: str, text: str) -> Hold:
    data = json.loads(text)
    also = tuple((host, tuple(gpus)) for host, gpus in data.get("also", ()))
    return Hold(job_id, data["host"], tuple(data["gpus"]), float(data["until"]), also)
