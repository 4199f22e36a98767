"""The jobs waiting to be placed, as the policy reads them, kept between cycles.

What the policy reads of a queued job (size, priority, workspace, submission time, estimate,
environment) never changes for its attempt, so a cycle reads only the (id, attempt) of each
queued job and builds a PendingJob for the ones it has not seen. With 10,000 jobs queued that
is the difference between reading ten columns and building 10,000 objects every cycle, and one
light index read (measured: about 140 ms against 10 ms, most of the cycle before this)."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import or_, select

from app.domain.status import JobStatus
from app.models import Job
from app.scheduler.model import PendingJob
from config.protocol import DEFAULT_ENV

#: Ids per IN (...) when reading the jobs not seen yet (SQLite's bound-parameter limit is
#: 32,766 these days, but smaller statements keep each read short).
_CHUNK = 500


class PendingCache:
    """Per pool (None: every pool), job id -> (attempt, pool, PendingJob) as last read."""

    def __init__(self):
        self._pools: dict[str | None, dict[str, tuple[int, str, PendingJob]]] = {}

    def read(self, session, now: float, placed: set[str],
             pool: str | None) -> list[tuple[int, str, PendingJob]]:
        """(attempt, pool, job) of every queued job of `pool` that is due now (a retry waits
        out its delay) and holds no allocation yet (`placed`)."""
        known = self._pools.get(pool, {})
        # Core, not the ORM's result layer: a third less time over 10,000 rows.
        rows = session.connection().execute(_due(now, pool))
        current = {job_id: attempt for job_id, attempt in rows if job_id not in placed}
        fresh = {job_id: entry for job_id, entry in known.items()
                 if current.get(job_id) == entry[0]}
        missing = [job_id for job_id in current if job_id not in fresh]
        for first in range(0, len(missing), _CHUNK):
            for row in session.connection().execute(_full(missing[first:first + _CHUNK])):
                if current.get(row.id) == row.attempt:   # not requeued in between
                    fresh[row.id] = (row.attempt, row.pool, pending_job(row))
        self._pools[pool] = fresh
        return [fresh[job_id] for job_id in current if job_id in fresh]


def _due(now: float, pool: str | None):
    at = datetime.fromtimestamp(now, tz=timezone.utc)
    query = select(Job.id, Job.attempt).where(
        Job.status == JobStatus.QUEUED.value,
        or_(Job.not_before.is_(None), Job.not_before <= at))
    return query if pool is None else query.where(Job.pool == pool)


def _full(ids: list[str]):
    return select(Job.id, Job.attempt, Job.pool, Job.workspace_id, Job.priority, Job.gpu,
                  Job.created_at, Job.max_running_time_ms, Job.instance_count,
                  Job.env_id).where(Job.id.in_(ids), Job.status == JobStatus.QUEUED.value)


def pending_job(row) -> PendingJob:
    limit = row.max_running_time_ms
    return PendingJob(id=row.id, workspace=str(row.workspace_id), priority=row.priority,
                      gpus=row.gpu, submitted_at=row.created_at.timestamp(),
                      estimate_s=limit / 1000 if limit else None,
                      instances=row.instance_count or 1, env=row.env_id or DEFAULT_ENV)

