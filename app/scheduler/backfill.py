"""Starting jobs now: best-fit host choice, and EASY backfill's protection of the first blocked job
(the head). Only the head is protected, as in Slurm's EASY: a later job may start now if it
cannot delay the head, so big jobs wait for the work ahead of them, not the work behind."""
from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

from app.scheduler.eta import head_host
from app.scheduler.fit import fit
from app.scheduler.model import InstancePlacement, PendingJob, Placement
from app.scheduler.state import INF, HostState


@dataclass(eq=False)
class Guard:
    """The head's reservation: on host `state` it takes `needed` (and a slot) at `shadow`."""
    job_id: str
    state: HostState
    needed: int
    shadow: float    # INF: unknown
    spare: int       # slots there that later jobs may still hold at the shadow

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


def reserve(states: list[HostState], job: PendingJob) -> Guard | None:
    """The head's reservation on the host where it can start earliest."""
    found = head_host(states, job)
    if found is None:
        return None
    state, option = found
    # Slots free by the shadow, minus the head's own: those later jobs may keep past it.
    by_shadow = sum(1 for at, _ in state.slots if at <= option.start and at < INF)
    return Guard(job.id, state, option.mask, option.start, max(0, by_shadow - 1))


def best_now(states: Sequence[HostState], job: PendingJob, guard: Guard | None,
             now: float) -> list[tuple[HostState, int]] | None:
    """The hosts (and GPUs there) a job would start on now, or None if it does not fit now.
    Best fit: fewest free GPUs left, then the fit() block key, then fewest free slots, then name;
    for a 0-GPU job that keeps slots on hosts with free GPUs for the GPU jobs that need them."""
    options = []
    for state in states:
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
