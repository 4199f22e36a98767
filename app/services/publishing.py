"""Hand a job's current attempt to the broker: the only place that sends a Celery message."""
from __future__ import annotations

import logging

from sqlalchemy import update

from app.models import Job
from app.models.base import utcnow
from config.queues import RUN_JOB_TASK

log = logging.getLogger(__name__)



def task_id(job_id: str, attempt: int) -> str:
    return f"{job_id}.{attempt}"


def publish_attempt(runtime, job: Job) -> bool:
    """Send the attempt's message to its queue, then mark the job published. False on failure."""
    try:
        runtime.celery.send_task(
            RUN_JOB_TASK, kwargs={"job_id": job.id, "attempt": job.attempt,
                                  "spec": job.task_spec()},
            queue=job.queue, task_id=task_id(job.id, job.attempt), retry=False)
    except Exception as exc:  # kombu raises several types for a dead broker
        log.warning("could not publish %s attempt %s: %s", job.id, job.attempt, exc)
        return False
    with runtime.db.write() as session:
        session.execute(update(Job).where(Job.id == job.id, Job.attempt == job.attempt)
                        .values(published_at=utcnow()))
    return True
