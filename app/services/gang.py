"""A multi-host attempt is one run of one job: the rules for its instances' events. The job is
`training` once every instance has started and `completed` once every instance has completed;
the first instance to end otherwise (failed, cancelled, preempted) or to lose its host ends the
attempt for all, and the others stop at once through config.keys.gang_end_key."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from app.models import Job, JobAttempt
from config.keys import gang_end_key
from config.protocol import Outcome
from workers.claim import KEY_TTL_SECONDS

#: Longest `worker` an attempt row holds (its column's size).
_WORKER_CHARS = 200


def is_gang(job: Job) -> bool:
    return (job.instance_count or 1) > 1


def record(attempt: JobAttempt, rank: int, **facts: Any) -> None:
    """Merge what one instance reported into the attempt's `instances`."""
    known = dict(attempt.instances or {})
    known[str(rank)] = {**known.get(str(rank), {}), **facts}
    attempt.instances = known  # a new dict: SQLAlchemy sees a JSON column change on assignment


def record_start(attempt: JobAttempt, rank: int, data: dict[str, Any], at: datetime) -> None:
    record(attempt, rank, worker=data.get("worker"), gpus=data.get("gpus"), pid=data.get("pid"),
           started_at=at.isoformat())


def all_started(attempt: JobAttempt, job: Job) -> bool:
    return _count(attempt, lambda facts: facts.get("started_at")) == job.instance_count


def all_completed(attempt: JobAttempt, job: Job) -> bool:
    return _count(attempt, lambda f: f.get("outcome") == Outcome.COMPLETED) == job.instance_count


def summary(attempt: JobAttempt) -> dict[str, Any]:
    """The attempt row's own columns for a started gang: rank 0's pid, every host."""
    ranks = attempt.instance_list
    workers = ",".join(f"{i['rank']}:{i.get('worker')}" for i in ranks)
    gpus = " ".join(f"{i['rank']}:{i.get('gpus') or '-'}" for i in ranks)
    return {"worker": workers[:_WORKER_CHARS], "gpus": gpus[:_WORKER_CHARS],
            "pid": ranks[0].get("pid") if ranks else None}


def end(redis, job_id: str, attempt: int, why: str) -> None:
    """Stop every instance of the attempt that still runs (none reports how it ended)."""
    if redis is not None:
        redis.set(gang_end_key(job_id, attempt), why, ex=KEY_TTL_SECONDS)


def _count(attempt: JobAttempt, test) -> int:
    return sum(1 for facts in (attempt.instances or {}).values() if test(facts))
