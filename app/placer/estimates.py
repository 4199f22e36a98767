"""When running jobs are expected to end, for the plan behind queue ETAs: from the epochs they
have streamed (time per epoch x epochs left), else from their time limit, else unknown."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import and_, func, select

from app.models import Job, JobAttempt, JobMetric
from app.placer.holders import among

#: How each kind of estimate was made, for eta_basis.
FROM_EPOCHS, FROM_LIMIT = "epochs", "time_limit"


def expected_ends(session, job_ids: Iterable[str], now: float,
                  pool: str | None = None) -> dict[str, tuple[float, str]]:
    """Job id -> (expected end as a Unix time, FROM_EPOCHS or FROM_LIMIT); unknown ones absent.
    `pool`: the pool the jobs run in, when they are one pool's (holders.among)."""
    ids = set(job_ids)
    if not ids:
        return {}
    ends = {}
    progress = {row[0]: row[1:] for row in among(ids, pool, lambda where: _progress(session,
                                                                                    where))}
    for job_id, attempt_started, limit_ms in among(ids, pool, lambda where: session.execute(
            select(Job.id, JobAttempt.started_at, Job.max_running_time_ms)
            .join(JobAttempt, and_(JobAttempt.job_id == Job.id, JobAttempt.number == Job.attempt),
                  isouter=True).where(where))):
        started = _ts(attempt_started) if attempt_started else now   # placed, not started yet
        end = _from_epochs(started, progress.get(job_id))
        if end is not None:
            ends[job_id] = (end, FROM_EPOCHS)
        elif limit_ms:
            ends[job_id] = (started + limit_ms / 1000, FROM_LIMIT)
    return ends


def _progress(session, where) -> Iterable[tuple[str, int, int | None, datetime]]:
    """(job id, latest epoch, total_epochs, when it was reported) of the jobs `where` selects,
    current attempt only."""
    latest = (select(JobMetric.job_id, func.max(JobMetric.epoch).label("epoch"))
              .join(Job, and_(Job.id == JobMetric.job_id, Job.attempt == JobMetric.attempt))
              .where(where).group_by(JobMetric.job_id).subquery())
    return session.execute(
        select(JobMetric.job_id, JobMetric.epoch, JobMetric.total_epochs, JobMetric.reported_at)
        .join(Job, and_(Job.id == JobMetric.job_id, Job.attempt == JobMetric.attempt))
        .join(latest, and_(latest.c.job_id == JobMetric.job_id,
                           latest.c.epoch == JobMetric.epoch)))


def _from_epochs(started: float, progress) -> float | None:
    if progress is None:
        return None
    epoch, total, reported_at = progress
    if not total or epoch < 1 or total < epoch:
        return None
    per_epoch = max(0.0, _ts(reported_at) - started) / epoch
    return _ts(reported_at) + per_epoch * (total - epoch)


def _ts(at: datetime) -> float:
    return at.timestamp()
