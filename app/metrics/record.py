"""What the scheduler and the consumer record for GET /metrics. Every call is best effort and
comes after the work it measures is done (sent, committed): a Redis that does not answer costs
a gap in a metric, never a job or a webhook."""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import event
from sqlalchemy.orm import Session

from app.metrics import store
from app.metrics.catalogue import (DISPATCH_LATENCY, JOB_DURATION, WEBHOOK_DELIVERIES,
                                   DeliveryOutcome, EventMetric, waiting_since)
from app.models import Job
from app.models.base import utcnow

log = logging.getLogger(__name__)


def job_dispatched(redis, job: Job) -> None:
    """The scheduler has just sent the job's current attempt to its host(s)."""
    _safely(store.observe, redis, DISPATCH_LATENCY, (job.pool,),
            _seconds(waiting_since(job), utcnow()))


def job_finished(session: Session, redis, job: Job) -> None:
    """The job has just reached a terminal status in `session`: its run time is recorded once
    the transaction commits, and never if it rolls back (a batch of events that failed is
    applied again, and must not count twice)."""
    if redis is None or job.started_at is None or job.finished_at is None:
        return  # stopped before it started: it has no run time
    labels = (job.pool, job.status)
    seconds = _seconds(job.started_at, job.finished_at)
    event.listen(session, "after_commit", lambda _session: _safely(
        store.observe, redis, JOB_DURATION, labels, seconds), once=True)


def webhook_delivery(redis, outcome: DeliveryOutcome) -> None:
    _safely(store.increment, redis, WEBHOOK_DELIVERIES, (outcome.value,))


def _safely(write, redis, metric: EventMetric, *args) -> None:
    try:
        write(redis, metric, *args)
    except Exception as exc:  # a metric is never worth failing the caller's work for
        log.warning("%s not recorded (%s: %s)", metric.name, type(exc).__name__, exc)


def _seconds(start: datetime, end: datetime) -> float:
    # Clocks of two control-plane hosts may disagree a little; a wait is never negative.
    return max(0.0, (end - start).total_seconds())
