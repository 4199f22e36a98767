"""The forward plan behind queue ETAs: the queued jobs in order, each booked at the earliest
time it fits on the timeline after the jobs ahead of it (running jobs free their GPUs at their
expected ends; booked jobs at start + estimate). A job never fills a gap before a job booked
earlier on the same GPUs, which keeps this linear in the jobs planned."""
from __future__ import annotations

import heapq
from collections.abc import Iterable

from app.scheduler.model import PendingJob
from app.scheduler.state import INF, HostState, Option, earliest

PLAN_BASIS = "plan: running jobs' expected ends and the estimates of the jobs ahead"


def forward(now: float, states: list[HostState],
            queued: Iterable[PendingJob]) -> dict[str, tuple[float | None, str]]:
    """Job id -> (planned start - now, or None when unknown; the basis). Books each job."""
    return {job.id: _book(now, states, job) for job in queued}


def _book(now: float, states: list[HostState], job: PendingJob) -> tuple[float | None, str]:
    chosen = earliest_hosts(states, job)
    if chosen is None:
        return None, f"unknown: fewer than {job.instances} hosts could run it"
    start = max(option.start for _, option in chosen)
    why = next((option.why for _, option in chosen if option.start == INF), "")
    end = INF if start == INF or job.estimate_s is None else start + job.estimate_s
    # Whoever needs these GPUs after this job waits for what this job waits for.
    after = why or f"job {job.id} ahead has no estimate"
    for state, option in chosen:
        state.book(option.mask, start, end, after)
    return (None, f"unknown: {why}") if start == INF else (start - now, PLAN_BASIS)


def earliest_hosts(states: list[HostState],
                   job: PendingJob) -> list[tuple[HostState, Option]] | None:
    """The `instances` hosts where the job can start soonest (by their own earliest starts)."""
    options = [(o.start, o.unknown, s.name, s, o) for s in states
               if (o := earliest(s, job.gpus)) is not None]
    chosen = heapq.nsmallest(job.instances, options)   # names are unique: never compares states
    return [(s, o) for *_, s, o in chosen] if len(chosen) == job.instances else None
