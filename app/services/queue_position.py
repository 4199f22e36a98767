"""Where a job stands in its pool's queue, for GET /api/v1/training/jobs/{id}/queue.

A waiting job is described by the scheduler's latest plan (app/placer/board.py): position, who
is ahead, the policy's reason and the ETA. The plan covers only jobs the scheduler could place
now, so the other states are answered here from Redis and the database (OffPlanReason)."""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timezone
from enum import StrEnum

from redis.exceptions import RedisError
from sqlalchemy import and_, or_, select

from app.domain.status import JobStatus
from app.errors import ServiceUnavailable
from app.models import Job, User
from app.placer import board
from app.scheduler.model import Reason
from app.services import access, job_queries
from config.protocol import Allocation
from workers import allocations


class OffPlanReason(StrEnum):
    """Why a job has no entry in the scheduler's plan; beside the policy's Reason values."""
    STARTING = "starting"              # placed: GPUs reserved, its message is on its way to a host
    RETRY_BACKOFF = "retry_backoff"    # a retry waits out its delay (Job.not_before)
    NOT_QUEUED = "not_queued"          # training or finished: it is in no queue
    NOT_PLANNED = "not_planned"        # queued, but no fresh plan has it (scheduler down?)


#: Every reason the API can answer, in the order the API documents them.
REASONS = tuple(str(reason) for reason in (*Reason, *OffPlanReason))
NOT_PLANNED_MESSAGE = ("the scheduler has not planned this pool recently; is `trainq scheduler` "
                       "running?")


@dataclass(frozen=True)
class Ahead:
    ids: tuple[str, ...]   # the jobs ahead that the caller may see, first first
    others: int            # jobs ahead in workspaces the caller cannot see


NOBODY = Ahead((), 0)


@dataclass(frozen=True)
class QueuePosition:
    pool: str
    position: int | None   # 1 = next; None when the job is not waiting in the queue
    ahead: Ahead
    reason: str
    message: str
    eta_seconds: float | None
    eta_basis: str


def locate(redis, session, user: User, job_id: str) -> QueuePosition:
    """The job's place in its pool's queue as `user` may see it (the caller checked access)."""
    job = job_queries.get_job(session, job_id)
    if job.status != JobStatus.QUEUED.value:
        return _off(job, OffPlanReason.NOT_QUEUED, f"the job is {job.status}, not in a queue",
                    f"none: the job is {job.status}")
    try:
        return _queued(redis, session, user, job, time.time())
    except RedisError as exc:
        raise ServiceUnavailable(
            f"the job queue (Redis) is not answering ({exc}); the job's place in the queue is "
            "unknown until it is back, try again shortly") from None


def _queued(redis, session, user: User, job: Job, now: float) -> QueuePosition:
    # The plan first: a job placed after it was published is missing from the next one, so the
    # allocation is looked for only once the plan has no fresh entry.
    entry = board.read(redis, job.pool, job.id)
    if entry is not None and now - entry.planned_at <= board.PLAN_TTL_SECONDS:
        return _planned(session, user, job, entry, now)
    allocation = allocations.current(redis, job.id, job.attempt)
    if allocation is not None:
        return _off(job, OffPlanReason.STARTING, _placed_on(allocation),
                    "placed: its GPUs are reserved", eta=0.0)
    if job.not_before is not None and job.not_before.timestamp() > now:
        return _off(job, OffPlanReason.RETRY_BACKOFF, _backoff(job, now),
                    "unknown: it is planned once its retry delay has passed")
    return _unplanned(session, user, job)


def _planned(session, user: User, job: Job, entry: board.BoardEntry,
             now: float) -> QueuePosition:
    eta = None if entry.eta_seconds is None else \
        max(0.0, entry.eta_seconds - (now - entry.planned_at))
    return QueuePosition(job.pool, entry.position, _split(session, user, job.pool, entry.ahead),
                         entry.reason, entry.message, eta, entry.eta_basis)


def _unplanned(session, user: User, job: Job) -> QueuePosition:
    """Best effort without the scheduler: the database's order (no aging, no reasons)."""
    ahead = _ahead_in_database(session, job)
    return QueuePosition(job.pool, len(ahead) + 1, _split(session, user, job.pool, ahead),
                         OffPlanReason.NOT_PLANNED.value, NOT_PLANNED_MESSAGE, None,
                         "unknown: there is no recent plan of the pool; the position is the "
                         "database's priority order")


def _off(job: Job, reason: OffPlanReason, message: str, basis: str,
         eta: float | None = None) -> QueuePosition:
    return QueuePosition(job.pool, None, NOBODY, reason.value, message, eta, basis)


def _ahead_in_database(session, job: Job) -> list[str]:
    """The queued jobs of the pool before `job` in the policy's order without aging: priority
    first, then FIFO (created_at, then id)."""
    earlier = or_(Job.created_at < job.created_at,
                  and_(Job.created_at == job.created_at, Job.id < job.id))
    before = or_(Job.priority > job.priority, and_(Job.priority == job.priority, earlier))
    return list(session.scalars(
        select(Job.id).where(Job.pool == job.pool, Job.status == JobStatus.QUEUED.value, before)
        .order_by(Job.priority.desc(), Job.created_at, Job.id)))


def _split(session, user: User, pool: str, ids: Sequence[str]) -> Ahead:
    """The ids the user may see, and a count of the rest (which it must not learn)."""
    if not ids:
        return NOBODY
    # The pool's live jobs the user may see: the plan is at most a cycle old, so a job ahead
    # then may have started since; one that has ended meanwhile counts among the others.
    live = (JobStatus.QUEUED.value, JobStatus.TRAINING.value)
    visible = set(session.scalars(access.visible_jobs(
        select(Job.id).where(Job.pool == pool, Job.status.in_(live)), user)))
    shown = tuple(job_id for job_id in ids if job_id in visible)
    return Ahead(shown, len(ids) - len(shown))


def _placed_on(allocation: Allocation) -> str:
    where = " and ".join(f"{i.host} ({_gpus(i.gpus)})" for i in allocation.instances)
    return f"placed on {where}; it starts as soon as the host picks it up"


def _gpus(gpus: Sequence[str]) -> str:
    if not gpus:
        return "no GPU"
    return f"GPU{'s' * (len(gpus) != 1)} {', '.join(gpus)}"


def _backoff(job: Job, now: float) -> str:
    at = job.not_before.astimezone(timezone.utc).isoformat(timespec="seconds")
    wait = max(1, round(job.not_before.timestamp() - now))
    return (f"attempt {job.attempt} is a retry and waits out its retry delay; it joins the "
            f"queue at {at} (in {wait} s)")
