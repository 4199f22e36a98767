"""Hand a job's current attempt to the broker: the only place that sends a Celery message."""
from __future__ import annotations

import logging

from sqlalchemy import update

from app.models import Job
from app.models.base import utcnow
from config.keys import claim_key, published_key
from config.queues import RUN_JOB_TASK

log = logging.getLogger(__name__)


def task_id(job_id: str, attempt: int) -> str:
    return f"{job_id}.{attempt}"


def publish_attempt(runtime, job: Job, record: bool = True) -> bool:
    """Send the attempt's message, then leave a marker beside it; with `record`, also stamp
    published_at (the API leaves that to the reconciler: one database write per submission).
    False on failure: the reconciler sends it later."""
    try:
        runtime.celery.send_task(
            RUN_JOB_TASK, kwargs={"job_id": job.id, "attempt": job.attempt,
                                  "spec": job.task_spec().to_wire()},
            queue=job.queue, task_id=task_id(job.id, job.attempt), retry=False)
        # After the send: a crash between the two leaves no marker, so the reconciler re-sends,
        # and the claim turns the extra copy away. The reverse order could lose the job.
        runtime.redis.set(published_key(job.id, job.attempt), "1",
                          ex=runtime.settings.visibility_timeout_seconds)
    except Exception as exc:  # kombu raises several types for a dead broker
        log.warning("could not publish %s attempt %s: %s", job.id, job.attempt, exc)
        return False
    if record:
        mark_published(runtime, [(job.id, job.attempt)])
    return True


def mark_published(runtime, attempts: list[tuple[str, int]]) -> None:
    with runtime.db.write() as session:
        for job_id, attempt in attempts:
            session.execute(update(Job).where(Job.id == job_id, Job.attempt == attempt)
                            .values(published_at=utcnow()))


def known_to_broker(redis, jobs: list[Job]) -> list[bool]:
    """Per job: does Redis know the current attempt (a send marker or a worker's claim)?"""
    pipe = redis.pipeline(transaction=False)
    for job in jobs:
        pipe.exists(published_key(job.id, job.attempt), claim_key(job.id, job.attempt))
    return [bool(count) for count in pipe.execute()] if jobs else []
