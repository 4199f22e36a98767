"""Where pending jobs start, and what the others are told.

Slurm-style EASY backfill: walk the pending jobs in priority order and start each one that fits
now (best-fit, aligned GPU blocks); the first that does not fit gets a reservation on the host
where it can start earliest, and later jobs start only where they cannot delay it. Every job
not started gets a position, a reason and an ETA from a forward plan.

Pure and deterministic: the caller passes the clock and a snapshot of the pool; no I/O here.
The scheduler process, the position/ETA API and `app.scheduler.simulate` all call `plan()`."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from app.scheduler.backfill import Guard, best_now, reserve, start
from app.scheduler.eta import forward
from app.scheduler.fit import fit
from app.scheduler.model import (HostView, InstancePlacement, PendingJob, Placement, Plan,
                                 QueueEntry, Reason, RunningJob)
from app.scheduler.quotas import within_quota_first
from app.scheduler.reasons import Capacity, behind, waiting
from app.scheduler.state import INF, HostState, largest_fit, pool_state

__all__ = ["DEFAULT_AGING_S", "HostView", "InstancePlacement", "PendingJob", "Placement", "Plan",
           "QueueEntry", "Reason", "RunningJob", "effective_priority", "order", "plan"]

#: One priority level per hour waited: FIFO among equals, and a long wait lifts a low job.
DEFAULT_AGING_S = 3600.0


def effective_priority(job: PendingJob, now: float, aging_seconds: float) -> float:
    """Priority plus one level per `aging_seconds` waited (no aging when <= 0)."""
    if aging_seconds <= 0:
        return float(job.priority)
    return job.priority + max(0.0, now - job.submitted_at) / aging_seconds


def order(pending: Iterable[PendingJob], now: float, aging_seconds: float) -> list[PendingJob]:
    """Higher effective priority first; FIFO (submitted_at, then id) among equals."""
    return sorted(pending, key=lambda j: (-effective_priority(j, now, aging_seconds),
                                          j.submitted_at, j.id))


def plan(now: float, hosts: Sequence[HostView], running: Sequence[RunningJob],
         pending: Sequence[PendingJob], *, aging_seconds: float = DEFAULT_AGING_S,
         depth: int = 500, quotas: Mapping[str, int] | None = None) -> Plan:
    """What to start now, and every other job's place, reason and ETA (see the module doc).
    Only the first `depth` jobs in order are planned, as Slurm's bf_max_job_test bounds a pass.
    With `quotas` (workspace -> GPUs), jobs within their workspace's quota go before those
    that would borrow beyond it (app.scheduler.quotas)."""
    states = pool_state(now, hosts, running)
    capacity = Capacity.of(hosts)
    ordered = order(pending, now, aging_seconds)
    borrowing: set[str] = set()
    if quotas:
        ordered, borrowing = within_quota_first(ordered, running, quotas)
    walk = _walk(now, states, ordered[:depth], capacity)
    etas = forward(now, states, walk.queued)   # after the walk: it books on the same timeline
    queue = _queue(ordered, walk, etas, capacity, depth, borrowing)
    return Plan(tuple(walk.placements), queue, walk.reservation(), frozenset(borrowing))


@dataclass
class _Walk:
    placements: list[Placement] = field(default_factory=list)
    queued: list[PendingJob] = field(default_factory=list)   # could run, not now; in order
    guard: Guard | None = None
    delaying: set[str] = field(default_factory=set)   # would fit now but for the head
    largest: int = 0   # the largest free block when the head was blocked

    def reservation(self) -> tuple[str, str, float | None] | None:
        if self.guard is None:
            return None
        shadow = self.guard.shadow
        return self.guard.job_id, self.guard.host, None if shadow == INF else shadow


def _walk(now: float, states: list[HostState], jobs: Sequence[PendingJob],
          capacity: Capacity) -> _Walk:
    walk = _Walk()
    for job in jobs:
        if capacity.never(job) is not None:
            continue   # it cannot run anywhere, so it must not hold a reservation either
        chosen = best_now(states, job, walk.guard, now)
        if chosen is None:
            _blocked(walk, states, job, now)
            continue
        walk.placements.append(start(chosen, job, now))
        for state, _ in chosen if walk.guard else ():
            walk.guard.took(state, job, now)
    return walk


def _blocked(walk: _Walk, states: list[HostState], job: PendingJob, now: float) -> None:
    walk.queued.append(job)
    if walk.guard is None and job.instances == 1:   # a gang gets no reservation yet
        walk.guard = reserve(states, job)
        walk.largest = max((largest_fit(s) for s in states), default=0)
    elif walk.guard is not None and _fits_on(walk.guard.state, job) \
            and best_now(states, job, None, now) is not None:
        walk.delaying.add(job.id)


def _fits_on(state: HostState, job: PendingJob) -> bool:
    return state.free_slots > 0 and fit(state.free, len(state.gpus), job.gpus) is not None


def _queue(ordered: list[PendingJob], walk: _Walk, etas: dict[str, tuple[float | None, str]],
           capacity: Capacity, depth: int, borrowing: set[str]) -> tuple[QueueEntry, ...]:
    placed = {p.job_id for p in walk.placements}
    entries: list[QueueEntry] = []
    ahead = 0   # jobs before this one that could run: they go first
    for index, job in enumerate(j for j in ordered if j.id not in placed):
        never = capacity.never(job)
        if never is not None:
            entries.append(capacity.never_entry(job, index + 1, never))
            continue
        reason, message = _why(job, ahead, walk, job.id in etas, job.id in borrowing)
        eta, basis = etas.get(job.id, (None, f"unknown: beyond the planning depth ({depth} jobs)"))
        entries.append(QueueEntry(job.id, index + 1, reason, message, eta, basis))
        ahead += 1
    return tuple(entries)


def _why(job: PendingJob, ahead: int, walk: _Walk, planned: bool,
         borrowing: bool) -> tuple[Reason, str]:
    if borrowing:
        return Reason.OVER_QUOTA, (
            f"its workspace is at its GPU quota; it borrows idle GPUs after every job within "
            f"its quota ({behind(ahead)})")
    if not planned:
        return Reason.BEHIND_HIGHER_PRIORITY, behind(ahead) + " (beyond the planning depth)"
    return waiting(job, ahead, walk.guard, walk.largest, job.id in walk.delaying)
