"""Starting jobs now: best-fit host choice, and EASY backfill's protection of the first blocked job
(the head). Only the head is protected, as in Slurm's EASY: a later job may start now if it
cannot delay the head, so big jobs wait for the work ahead of them, not the work behind.
A plan may protect a few more blocked jobs the same way (`Guards`, each reserved after the
ones before it): Slurm's backfill reserves for every job it tests, EASY for the first only."""
from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from app.scheduler.eta import earliest_hosts
from app.scheduler.fit import fit
from app.scheduler.model import InstancePlacement, PendingJob, Placement, has_env
from app.scheduler.state import INF, HostState


@dataclass(eq=False)
class Guard:
    """The head's reservation: on host `state` it takes `needed` (and a slot) at `shadow`."""
    job_id: str
    state: HostState
    needed: int
    shadow: float    # INF: unknown
    spare: int       # slots there that later jobs may still hold at the shadow
    end: float = INF   # when the head would end if it started at the shadow (INF: unknown)

    @property
    def host(self) -> str:
        return self.state.name

    def usable(self, state: HostState, job: PendingJob, now: float) -> tuple[int, bool]:
        """(GPUs the job may take now on this host, whether it may take a slot)."""
        if state is not self.state or self.ends_first(job, now):
            return state.free, state.free_slots > 0
        return state.free & ~self.needed, state.free_slots > 0 and self.spare > 0

    def ends_first(self, job: PendingJob, now: float) -> bool:
        # Only a known estimate can prove a job gone by the shadow; an unknown one may run forever.
        return job.estimate_s is not None and now + job.estimate_s <= self.shadow < INF

    def took(self, state: HostState, job: PendingJob, now: float) -> None:
        if state is self.state and not self.ends_first(job, now):
            self.spare -= 1


def reserve(states: list[HostState], job: PendingJob,
            earlier: Sequence[Guard] = ()) -> list[Guard]:
    """The blocked job's reservation: on the host where it can start earliest, or for a
    multi-host job on the `instances` hosts where it can, all from the latest of their starts
    (the shadow). It comes after the `earlier` reservations (booked on copies of their hosts'
    timelines: the real ones stay as they are for the forward plan, which books every queued
    job itself). Empty when it cannot be placed at all."""
    found = earliest_hosts(_booked(states, earlier), job)
    if found is None:
        return []
    shadow = max(option.start for _, option in found)
    end = INF if job.estimate_s is None or shadow == INF else shadow + job.estimate_s
    guards = []
    for copy, option in found:
        state = next(s for s in states if s.name == copy.name)
        # Slots free by the shadow, minus the job's own: those later jobs may keep past it.
        by_shadow = sum(1 for at, _ in copy.slots if at <= shadow and at < INF)
        guards.append(Guard(job.id, state, option.mask, shadow, max(0, by_shadow - 1), end))
    return guards


def _booked(states: list[HostState], guards: Sequence[Guard]) -> list[HostState]:
    """The states, with each guard's head booked from its shadow on a copy of its host."""
    copies: dict[str, HostState] = {}
    for guard in guards:
        state = guard.state
        copy = copies.setdefault(state.name, replace(
            state, avail=list(state.avail), why=list(state.why), slots=list(state.slots),
            options={}))
        why = "" if guard.end < INF else f"job {guard.job_id} ahead has no estimate"
        copy.book(guard.needed, guard.shadow, guard.end, why)
    return [copies.get(s.name, s) for s in states]


@dataclass
class Guards:
    """The reservations of one plan, first blocked job first. A job may start now only where
    it delays none of them."""
    limit: int                                   # how many blocked jobs get one
    held: list[Guard] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.held)

    def usable(self, state: HostState, job: PendingJob, now: float) -> tuple[int, bool]:
        free, slot = state.free, state.free_slots > 0
        for guard in self.held:
            mine, spare = guard.usable(state, job, now)
            free, slot = free & mine, slot and spare
        return free, slot

    def took(self, state: HostState, job: PendingJob, now: float) -> None:
        for guard in self.held:
            guard.took(state, job, now)

    def add(self, states: list[HostState], job: PendingJob) -> None:
        """Reserve for a blocked job while fewer than `limit` jobs are protected; a multi-host
        job's reservation holds one guard per host."""
        if len({guard.job_id for guard in self.held}) < self.limit:
            self.held += reserve(states, job, self.held)


def best_now(states: Sequence[HostState], job: PendingJob, guard: Guard | Guards | None,
             now: float) -> list[tuple[HostState, int]] | None:
    """The hosts (and GPUs there) a job would start on now, or None if it does not fit now.
    Best fit: fewest free GPUs left, then the fit() block key, then fewest free slots, then name;
    for a 0-GPU job that keeps slots on hosts with free GPUs for the GPU jobs that need them."""
    options = []
    for state in states:
        if not has_env(state.envs, job):
            continue
        free, slot = guard.usable(state, job, now) if guard else (state.free, state.free_slots > 0)
        found = fit(free, len(state.gpus), job.gpus) if slot else None
        if found is not None:
            key = (free.bit_count() - job.gpus, found[0], state.free_slots, state.name)
            options.append((key, state, found[1]))
    chosen = heapq.nsmallest(job.instances, options)   # names are unique: never compares states
    return [(state, mask) for _, state, mask in chosen] if len(chosen) == job.instances else None


def start(chosen: list[tuple[HostState, int]], job: PendingJob, now: float) -> Placement:
    """Take the chosen GPUs and slots now; ranks follow host-name order."""
    end = INF if job.estimate_s is None else now + job.estimate_s
    why = "" if job.estimate_s is not None else f"job {job.id} ahead has no estimate"
    instances = []
    for rank, (state, mask) in enumerate(sorted(chosen, key=lambda c: c[0].name)):
        state.start_now(mask, now, end, why)
        ids = tuple(state.gpus[i] for i in range(len(state.gpus)) if mask >> i & 1)
        instances.append(InstancePlacement(rank, state.name, ids))
    return Placement(job.id, tuple(instances))
