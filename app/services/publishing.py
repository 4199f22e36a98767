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
    """Send the attempt's message to its queue, then (with `record`) stamp published_at.
    False on failure: the reconciler sends it later."""
    try:
        # The marker lives beside the message: if Redis loses its data, both go together.
        runtime.redis.set(published_key(job.id, job.attempt), "1",
                          ex=runtime.settings.visibility_timeout_seconds)
        runtime.celery.send_task(
            RUN_JOB_TASK, kwargs={"job_id": job.id, "attempt": job.attempt,
                                  "spec": job.task_spec()},
            queue=job.queue, task_id=task_id(job.id, job.attempt), retry=False)
    except Exception as exc:  # kombu raises several types for a dead broker
        log.warning("could not publish %s attempt %s: %s", job.id, job.attempt, exc)
        return False
    if not record:
        return True
    with runtime.db.write() as session:
        session.execute(update(Job).where(Job.id == job.id, Job.attempt == job.attempt)
                        .values(published_at=utcnow()))
    return True


def message_lost(redis, job: Job) -> bool:
    """A published, unclaimed attempt whose marker is gone: the broker lost the message."""
    pipe = redis.pipeline(transaction=False)
    pipe.exists(published_key(job.id, job.attempt))
    pipe.exists(claim_key(job.id, job.attempt))
    marker, claimed = pipe.execute()
    return not marker and not claimed
