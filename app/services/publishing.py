"""Hand placed work to the broker: the only place that sends a Celery message."""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import update

from app.models import Job
from config.celery import declared_queue
from config.protocol import Allocation
from config.queues import RUN_JOB_TASK, host_queue

log = logging.getLogger(__name__)


def task_id(job_id: str, attempt: int, rank: int = 0) -> str:
    return f"{job_id}.{attempt}" if rank == 0 else f"{job_id}.{attempt}.r{rank}"


def send_instances(runtime, job: Job, allocation: Allocation) -> bool:
    """One message per instance, to its host's queue; False if the broker refused one.

    The queue is declared with every send: kombu's Redis transport routes by a binding stored in
    Redis, and a message published after that binding was lost (a flush) would be dropped. A
    message that arrives after its allocation was given back is turned away by the claim."""
    spec = job.task_spec().to_wire()
    wire = allocation.to_wire()
    try:
        for instance in allocation.instances:
            queue = declared_queue(host_queue(instance.host))
            runtime.celery.send_task(
                RUN_JOB_TASK, kwargs={"job_id": job.id, "attempt": job.attempt, "spec": spec,
                                      "allocation": wire},
                queue=queue, declare=[queue], task_id=task_id(job.id, job.attempt, instance.rank),
                retry=False)
    except Exception as exc:  # kombu raises several types for a dead broker
        log.warning("could not send %s attempt %s: %s", job.id, job.attempt, exc)
        return False
    return True


def mark_published(runtime, attempts: list[tuple[str, int]], at: datetime) -> None:
    """Stamp when the scheduler sent each attempt to its host(s) (one time per cycle)."""
    with runtime.db.write() as session:
        for job_id, attempt in attempts:
            session.execute(update(Job).where(Job.id == job_id, Job.attempt == attempt)
                            .values(published_at=at))
