"""What the scheduler keeps between cycles about each pool's running jobs: whose workspace each
belongs to (fixed for a job) and when each should end (it moves only as epochs are reported).

A cycle reads them only for the jobs it has not seen yet, the few placed since; the upkeep after
a cycle reads them all again, at most twice a second a pool. Reading them every cycle was a
fifth of a cycle with 1,600 jobs running, and an end a second old plans the same: the
policy's ends are estimates from epoch times or time limits."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from app.models import Job
from app.placer.estimates import expected_ends
from app.placer.holders import among

#: job id -> (expected end, how it was estimated: estimates.FROM_*)
Ends = dict[str, tuple[float, str]]


class RunningCache:
    def __init__(self):
        self._ends: dict[str | None, Ends] = {}
        self._owners: dict[str | None, dict[str, str]] = {}   # job id -> workspace id as text

    def read(self, session, holders: set[str], now: float,
             pool: str | None) -> tuple[Ends, dict[str, str]]:
        """(expected ends, workspaces) of the jobs holding GPUs in `pool`."""
        ends, owners = self._ends.setdefault(pool, {}), self._owners.setdefault(pool, {})
        new = holders - owners.keys()
        if new:
            ends.update(expected_ends(session, new, now, pool))
            owners.update(workspaces(session, new, pool))
        return ({job: ends[job] for job in holders if job in ends},
                {job: owners[job] for job in holders if job in owners})

    def refresh(self, session, holders: set[str], now: float, pool: str | None) -> None:
        """Read every holder's expected end again; forget the jobs that hold nothing now."""
        owners = {job: ws for job, ws in self._owners.get(pool, {}).items() if job in holders}
        owners.update(workspaces(session, holders - owners.keys(), pool))
        self._owners[pool] = owners
        self._ends[pool] = expected_ends(session, holders, now, pool)


def workspaces(session, job_ids: Iterable[str], pool: str | None) -> dict[str, str]:
    rows = among(job_ids, pool, lambda where: session.execute(
        select(Job.id, Job.workspace_id).where(where)))
    return {job_id: str(workspace) for job_id, workspace in rows}
