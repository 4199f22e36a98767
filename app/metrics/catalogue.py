"""The metrics that count events (names, labels, buckets), the states the gauges count, and when
a job starts waiting. The gauges themselves are built where they are read (collector.py).

Labels carry pools, statuses, states and outcomes only: never a workspace, a job or anything
else a user names, which would make a time series per value."""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func

from app.models import Job

MINUTE, HOUR, DAY = 60, 3600, 24 * 3600


@dataclass(frozen=True)
class EventMetric:
    """A count of things that happen in the scheduler or the consumer, kept in Redis."""

    name: str
    help: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...] = ()  # upper bounds of a histogram, without +Inf; (): a counter


DISPATCH_LATENCY = EventMetric(
    "trainq_dispatch_latency_seconds",
    "Time from when a job's attempt could be placed (its submission; for a retry, the end of "
    "its retry interval) until the scheduler sent it to its host(s)",
    ("pool",),
    # Sub-second when the pool has room; hours when a job waits behind long-running ones.
    (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, MINUTE, 5 * MINUTE, 15 * MINUTE, 30 * MINUTE,
     HOUR, 2 * HOUR, 4 * HOUR, 8 * HOUR, 12 * HOUR, DAY))
JOB_DURATION = EventMetric(
    "trainq_job_duration_seconds",
    "Run time of a job that ended: from training (of its last attempt) to completed, failed "
    "or cancelled; a job stopped before it started has none",
    ("pool", "status"),
    # Training runs for minutes to days; the last bound is TRAINQ_MAX_JOB_SECONDS' default.
    (10, 30, MINUTE, 5 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 4 * HOUR, 8 * HOUR,
     12 * HOUR, DAY, 2 * DAY, 7 * DAY))
WEBHOOK_DELIVERIES = EventMetric(
    "trainq_webhook_deliveries",
    "Webhook delivery attempts: delivered; failed (it is retried later); dead (given up: "
    "410 Gone, or older than TRAINQ_WEBHOOK_MAX_AGE_SECONDS)",
    ("outcome",))
EVENT_METRICS = (DISPATCH_LATENCY, JOB_DURATION, WEBHOOK_DELIVERIES)


class DeliveryOutcome(str, enum.Enum):
    DELIVERED = "delivered"
    FAILED = "failed"
    DEAD = "dead"


class GpuState(str, enum.Enum):
    FREE = "free"  # on an online host, held by no job: new work can start on it
    USED = "used"  # held by a job (on an online or draining host)
    DRAINING = "draining"  # free, but on a draining host: nothing new starts on it
    OFFLINE = "offline"  # on a host whose heartbeat stopped: neither free nor known to be used


def waiting_since(job: Job) -> datetime:
    """When the job's current attempt could first be placed: its submission, or for a retry
    the end of its retry interval (only a requeue sets not_before, always after created_at)."""
    return job.not_before or job.created_at


#: waiting_since in SQL.
WAITING_SINCE = func.coalesce(Job.not_before, Job.created_at)
