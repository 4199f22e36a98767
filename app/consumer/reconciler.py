"""Make sure every queued job's current attempt is known to the broker: send the ones that
never got there (the API lost Redis or died mid-request, a retry is due) and, after Redis lost
its data, all of them. A message sent twice still runs once: the attempt's claim decides."""
from __future__ import annotations

import logging
import time
from datetime import timedelta

from sqlalchemy import or_, select, update

from app.domain.status import JobStatus
from app.models import Job
from app.models.base import utcnow
from app.services.jobs import flag_cancel
from app.services.publishing import known_to_broker, mark_published, publish_attempt
from config.keys import SENTINEL_KEY

log = logging.getLogger(__name__)
#: A job this young may still be on its way from the API to the broker.
GRACE_SECONDS = 5
BATCH = 500


class Reconciler:
    def __init__(self, runtime, redis):
        self.runtime, self.redis = runtime, redis
        self.data_lost_at: float | None = None

    def run_once(self) -> int:
        """One sweep; returns how many messages it sent."""
        self._check_sentinel()
        self._reflag_stops()
        jobs = self._unconfirmed()
        known = known_to_broker(self.redis, jobs)
        mark_published(self.runtime, [(j.id, j.attempt) for j, ok in zip(jobs, known) if ok])
        lost = [job for job, ok in zip(jobs, known) if not ok]
        if lost:
            log.warning("sending %d queued job(s) the broker does not know", len(lost))
        return sum(publish_attempt(self.runtime, job) for job in lost)

    def _reflag_stops(self) -> None:
        """A stop is committed before its Redis flag is written; re-write the flags of stopped
        jobs still training, in case that write was lost (Redis blip, API killed between)."""
        with self.runtime.db.read() as session:
            stopping = list(session.scalars(select(Job.id).where(
                Job.status == JobStatus.TRAINING.value, Job.stop_requested_at.is_not(None))))
        for job_id in stopping:
            flag_cancel(self.redis, job_id)

    def _unconfirmed(self) -> list[Job]:
        now = utcnow()
        with self.runtime.db.read() as session:
            return list(session.scalars(select(Job).where(
                Job.status == JobStatus.QUEUED.value, Job.published_at.is_(None),
                Job.created_at <= now - timedelta(seconds=GRACE_SECONDS),
                or_(Job.not_before.is_(None), Job.not_before <= now))
                .order_by(Job.created_at).limit(BATCH)))

    def _check_sentinel(self) -> None:
        """No sentinel: Redis lost its data. Wait two heartbeats, so live workers re-assert the
        claims of what they run, then treat every queued job as unconfirmed."""
        if self.redis.exists(SENTINEL_KEY):
            return
        now = time.monotonic()
        if self.data_lost_at is None:
            self.data_lost_at = now
            log.warning("Redis has no trainq sentinel (new, flushed or restarted without "
                        "persistence): re-checking every queued job shortly")
            return
        if now - self.data_lost_at < 2 * self.runtime.settings.heartbeat_seconds + 1:
            return
        with self.runtime.db.write() as session:
            session.execute(update(Job).where(Job.status == JobStatus.QUEUED.value)
                            .values(published_at=None))
        self.redis.set(SENTINEL_KEY, "1")
        self.data_lost_at = None
