"""Running jobs as preemption sees them: priority, whether they may be preempted, and how much
work each would lose (since its last reported epoch, which the examples checkpoint at, else
since it started)."""
from __future__ import annotations

from sqlalchemy import and_, func, select

from app.domain.status import JobStatus
from app.models import Job, JobAttempt, JobMetric
from app.placer.holders import among
from app.scheduler.model import RunningJob
from app.scheduler.preempt import Candidate
from app.scheduler.quotas import usage


def candidates(session, running: list[RunningJob], now: float, quotas: dict[str, int],
               pool: str | None = None) -> list[Candidate]:
    """The pool's training jobs, one candidate per host they run on (a multi-host job stops as a
    whole, so each of its candidates costs all its GPUs); those of a workspace holding more
    than its quota are marked borrowed. `pool`: the pool they run in (holders.among)."""
    held = usage(running)
    over = {ws for ws, quota in quotas.items() if held.get(ws, 0) > quota}
    by_id = {job.id: job for job in running}
    rows = among(by_id, pool, lambda where: _training(session, where))
    out = []
    for job_id, attempt, priority, preemptible, started, checkpoint in rows:
        job = by_id[job_id]
        since = now - (checkpoint or started).timestamp() if (checkpoint or started) else 0.0
        total = sum(len(gpus) for gpus in job.hosts.values())
        out += [Candidate(job_id, host, gpus, priority, preemptible, since, attempt,
                          job.workspace in over, job.workspace, total - len(gpus))
                for host, gpus in sorted(job.hosts.items())]
    return out


def _training(session, where):
    """(id, attempt, priority, preemptible, started, last epoch's time) of the training jobs
    `where` selects."""
    last_epoch = (select(JobMetric.job_id, func.max(JobMetric.reported_at).label("at"))
                  .join(Job, and_(Job.id == JobMetric.job_id, Job.attempt == JobMetric.attempt))
                  .where(where).group_by(JobMetric.job_id).subquery())
    return session.execute(
        select(Job.id, Job.attempt, Job.priority, Job.preemptible, JobAttempt.started_at,
               last_epoch.c.at)
        .join(JobAttempt, and_(JobAttempt.job_id == Job.id, JobAttempt.number == Job.attempt))
        .join(last_epoch, last_epoch.c.job_id == Job.id, isouter=True)
        .where(where, Job.status == JobStatus.TRAINING.value))
