"""Where pending jobs start, and what the others are told.

Slurm-style EASY backfill: walk the pending jobs in priority order and start each one that fits
now (best-fit, aligned GPU blocks); the first that does not fit gets a reservation on the host
where it can start earliest, and later jobs start only where they cannot delay it. With
workspace quotas the first few blocked jobs get one (`QUOTA_RESERVATIONS`). Every job not
started gets a position, a reason and an ETA from a forward plan.

Pure and deterministic: the caller passes the clock and a snapshot of the pool; no I/O here.
The scheduler process, the position/ETA API and `app.scheduler.simulate` all call `plan()`."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from app.scheduler.backfill import Guard, Guards, best_now, start
from app.scheduler.eta import forward
from app.scheduler.fit import fit
from app.scheduler.model import (HostView, InstancePlacement, PendingJob, Placement, Plan,
                                 QueueEntry, Reason, RunningJob, has_env)
from app.scheduler.quotas import within_quota_first
from app.scheduler.reasons import Capacity, behind, waiting
from app.scheduler.state import INF, HostState, largest_fit, pool_state

__all__ = ["DEFAULT_AGING_S", "HostView", "InstancePlacement", "PendingJob", "Placement", "Plan",
           "QUOTA_RESERVATIONS", "QueueEntry", "Reason", "RunningJob", "effective_priority",
           "order", "plan"]

#: One priority level per hour waited: FIFO among equals, and a long wait lifts a low job.
DEFAULT_AGING_S = 3600.0

#: Blocked jobs protected by a reservation when quotas apply (EASY, without them: 1). The
#: within-quota jobs of a small workspace go first and start at once, so they no longer wait
#: to fill the gaps a draining block leaves, as they do under strict priority; the queue is
#: then mostly the big workspace's big jobs. Reserving for the first three of them (the
#: research's option, scheduling.md 6.4) keeps three blocks draining to a purpose, and the
#: small jobs queue for the rest. Fairness simulation (8 seeds, 32 GPUs, 65 h): GPU use while
#: jobs wait 0.980-0.991 with one reservation, 0.984-0.994 with three (two or four: alike);
#: B's worst wait <= 9 h in every case.
QUOTA_RESERVATIONS = 3


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
         depth: int = 500, quotas: Mapping[str, int] | None = None,
         reservations: int | None = None, explain: bool = True) -> Plan:
    """What to start now, and every other job's place, reason and ETA (see the module doc).
    Only the first `depth` jobs in order are planned, as Slurm's bf_max_job_test bounds a pass.
    With `quotas` (workspace -> GPUs), jobs within their workspace's quota go before those
    that would borrow beyond it (app.scheduler.quotas). `reservations`: how many blocked jobs
    are protected (default 1, EASY; QUOTA_RESERVATIONS with quotas). `explain=False`: no
    queue entries (nor their ETAs, half the work): what to start is the same."""
    states = pool_state(now, hosts, running)
    capacity = Capacity.of(hosts)
    ordered = order(pending, now, aging_seconds)
    borrowing: set[str] = set()
    if quotas:
        ordered, borrowing = within_quota_first(ordered, running, quotas)
    if reservations is None:
        reservations = QUOTA_RESERVATIONS if quotas else 1
    walk = _walk(now, states, ordered[:depth], capacity, Guards(max(1, reservations)))
    placed = {p.job_id for p in walk.placements}
    blocked = tuple(j.id for j in ordered if j.id not in placed and j.id not in borrowing
                    and capacity.never(j) is None)
    if not explain:
        return Plan(tuple(walk.placements), (), walk.reservation(), frozenset(borrowing),
                    blocked)
    etas = forward(now, states, walk.queued)   # after the walk: it books on the same timeline
    queue = _queue(ordered, walk, etas, capacity, depth, borrowing)
    return Plan(tuple(walk.placements), queue, walk.reservation(), frozenset(borrowing),
                blocked)


@dataclass
class _Walk:
    guards: Guards
    placements: list[Placement] = field(default_factory=list)
    queued: list[PendingJob] = field(default_factory=list)   # could run, not now; in order
    delaying: dict[str, Guard] = field(default_factory=dict)   # would fit now but for this one
    largest: int = 0   # the largest free block when the head was blocked

    @property
    def guard(self) -> Guard | None:
        """The head: the first blocked job's reservation, EASY's protected job."""
        return self.guards.held[0] if self.guards.held else None

    def reservation(self) -> tuple[str, str, float | None] | None:
        if self.guard is None:
            return None
        shadow = self.guard.shadow
        return self.guard.job_id, self.guard.host, None if shadow == INF else shadow


def _walk(now: float, states: list[HostState], jobs: Sequence[PendingJob],
          capacity: Capacity, guards: Guards) -> _Walk:
    walk = _Walk(guards)
    # Only hosts with room can take a job now, and a walk only ever takes room away: on a busy
    # cluster a few hosts of hundreds are searched per job (best_now would refuse the rest).
    roomy = _with_room(states)
    for job in jobs:
        if capacity.never(job) is not None:
            continue   # it cannot run anywhere, so it must not hold a reservation either
        chosen = best_now(roomy[job.gpus > 0], job, walk.guards or None, now)
        if chosen is None:
            _blocked(walk, states, job, now)
            continue
        walk.placements.append(start(chosen, job, now))
        for state, _ in chosen:
            walk.guards.took(state, job, now)
        roomy = _with_room(roomy[False])
    return walk


def _with_room(states: Sequence[HostState]) -> dict[bool, list[HostState]]:
    """{False: hosts with a free slot, True: those that also have a free GPU}."""
    slots = [state for state in states if state.free_slots > 0]
    return {False: slots, True: [state for state in slots if state.free]}


def _blocked(walk: _Walk, states: list[HostState], job: PendingJob, now: float) -> None:
    walk.queued.append(job)
    if not walk.guards and job.instances == 1:   # the head's message names the largest block
        walk.largest = max((largest_fit(s) for s in states if has_env(s.envs, job)), default=0)
    holder = next((g for g in walk.guards.held if _fits_on(g.state, job)), None)
    if holder is not None and best_now(states, job, None, now) is not None:
        walk.delaying[job.id] = holder   # it fits now, but for a reservation ahead of it
    walk.guards.add(states, job)   # it may be protected in turn, behind the reservations held


def _fits_on(state: HostState, job: PendingJob) -> bool:
    return (has_env(state.envs, job) and state.free_slots > 0
            and fit(state.free, len(state.gpus), job.gpus) is not None)


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
            f"its workspace is at its GPU quota (counting its own jobs ahead of it); it borrows "
            f"idle GPUs after every job within its quota ({behind(ahead)})")
    if not planned:
        return Reason.BEHIND_HIGHER_PRIORITY, behind(ahead) + " (beyond the planning depth)"
    # A job held back by a later reservation is told about that one (the head's otherwise).
    holder = walk.delaying.get(job.id)
    return waiting(job, ahead, holder or walk.guard, walk.largest, holder is not None)
