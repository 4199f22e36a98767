"""The forward plan behind queue ETAs: the queued jobs in order, each booked at the earliest
time it fits on the timeline after the jobs ahead of it (running jobs free their GPUs at their
expected ends; booked jobs at start + estimate). A job never fills a gap before a job booked
earlier on the same GPUs, which keeps this linear in the jobs planned."""
from __future__ import annotations

import heapq
from collections.abc import Iterable

from app.scheduler.model import PendingJob, has_env
from app.scheduler.state import INF, HostState, Option, earliest

PLAN_BASIS = "plan: running jobs' expected ends and the estimates of the jobs ahead"


def forward(now: float, states: list[HostState],
            queued: Iterable[PendingJob]) -> dict[str, tuple[float | None, str]]:
    """Job id -> (planned start - now, or None when unknown; the basis). Books each job."""
    soonest = Soonest(states)
    return {job.id: _book(now, soonest, job) for job in queued}


def _book(now: float, soonest: Soonest, job: PendingJob) -> tuple[float | None, str]:
    chosen = soonest.hosts(job)
    if chosen is None:
        return None, f"unknown: fewer than {job.instances} hosts could run it"
    start = max(option.start for _, option in chosen)
    why = next((option.why for _, option in chosen if option.start == INF), "")
    end = INF if start == INF or job.estimate_s is None else start + job.estimate_s
    # Whoever needs these GPUs after this job waits for what this job waits for.
    after = why or f"job {job.id} ahead has no estimate"
    for state, option in chosen:
        state.book(option.mask, start, end, after)
        soonest.booked(state)
    return (None, f"unknown: {why}") if start == INF else (start - now, PLAN_BASIS)


def earliest_hosts(states: list[HostState],
                   job: PendingJob) -> list[tuple[HostState, Option]] | None:
    """The `instances` hosts where the job can start soonest (by their own earliest starts)."""
    options = [(o.start, o.unknown, s.name, s, o) for s in states
               if has_env(s.envs, job) and (o := earliest(s, job.gpus)) is not None]
    chosen = heapq.nsmallest(job.instances, options)   # names are unique: never compares states
    return [(s, o) for *_, s, o in chosen] if len(chosen) == job.instances else None


class Soonest:
    """The `instances` hosts where a job can start soonest (by their own earliest starts, then
    fewest unknown ends, then name), from a heap per job shape instead of a scan of every host
    per job: hundreds of hosts times hundreds of queued jobs is the placer's hot loop.

    The heaps are lazy. Booking a host only ever makes its earliest starts later, so an entry
    made before its host's last booking is a lower bound: popped, it is put back with the
    host's current option, and the first entry popped that is current is the true minimum."""

    def __init__(self, states: list[HostState]):
        self.states = states
        self.heaps: dict[tuple[int, str], list] = {}
        self.version = {state.name: 0 for state in states}

    def hosts(self, job: PendingJob) -> list[tuple[HostState, Option]] | None:
        heap = self._heap(job)
        chosen = []
        while heap and len(chosen) < job.instances:
            entry = heapq.heappop(heap)
            state = entry[-1]
            if entry[3] == self.version[state.name]:
                chosen.append(entry)
            else:
                heapq.heappush(heap, self._entry(state, job.gpus))
        for entry in chosen:   # still current until one of them is booked
            heapq.heappush(heap, entry)
        if len(chosen) < job.instances:
            return None
        return [(entry[-1], earliest(entry[-1], job.gpus)) for entry in chosen]

    def booked(self, state: HostState) -> None:
        self.version[state.name] += 1

    def _heap(self, job: PendingJob) -> list:
        key = (job.gpus, job.env)
        if key not in self.heaps:
            self.heaps[key] = [self._entry(s, job.gpus) for s in self.states
                               if has_env(s.envs, job) and earliest(s, job.gpus) is not None]
            heapq.heapify(self.heaps[key])
        return self.heaps[key]

    def _entry(self, state: HostState, gpus: int) -> tuple:
        option = earliest(state, gpus)   # never None again once it was not: blocks never change
        return option.start, option.unknown, state.name, self.version[state.name], state
