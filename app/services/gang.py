"""A multi-host attempt is one run of one job: the rules for its instances' events. The job is
`training` once every instance has started and `completed` once every instance has completed;
the first instance to end otherwise (failed, cancelled, preempted) or to lose its host ends the
attempt for all, and the others stop at once through config.keys.gang_end_key.

A failure while another instance has not said how it ended is not yet a verdict: when a host dies,
the ranks on the other hosts fail at once (their collective loses its peer), seconds before the
dead host's lease runs out. The reaper decides: a silent instance makes it a lost host (retried);
once every instance's lease says done, the first failure fails the job."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from app.models import Job, JobAttempt
from config.keys import gang_end_key
from config.protocol import Outcome
from workers.claim import KEY_TTL_SECONDS, announce_stop

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


def others_unended(attempt: JobAttempt, job: Job, rank: int) -> bool:
    """Some instance other than `rank` has not reported how it ended."""
    known = attempt.instances or {}
    return any(not known.get(str(other), {}).get("outcome")
               for other in range(job.instance_count) if other != rank)


def first_failure(attempt: JobAttempt) -> dict[str, Any] | None:
    """The facts of the instance that failed first (with its rank), if one did."""
    failed = [facts for facts in attempt.instance_list if facts.get("outcome") == Outcome.FAILED]
    return min(failed, key=lambda facts: facts.get("ended_at") or "") if failed else None


def failure_message(job: Job, facts: dict[str, Any]) -> str:
    return f"instance {facts['rank']} of {job.instance_count}: {facts.get('message') or 'failed'}"


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
        announce_stop(redis, "gang-end", job_id)


def _count(attempt: JobAttempt, test) -> int:
    return sum(1 for facts in (attempt.instances or {}).values() if test(facts))
