"""The consumer's main loop: read a batch, apply it in one transaction, acknowledge after commit."""
from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from app.consumer.stream import EventStream, stream_client
from app.domain.status import JobStatus
from app.models import Job
from app.consumer.reaper import Reaper
from app.models.base import utcnow
from app.services.events import apply_event
from app.services.publishing import message_lost, publish_attempt

log = logging.getLogger(__name__)

UNPUBLISHED_GRACE_SECONDS = 5
RECONCILE_BATCH = 500
MAX_BACKOFF_SECONDS = 30


class Consumer:
    def __init__(self, runtime, name: str | None = None):
        self.runtime = runtime
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        redis = stream_client(runtime.settings.redis_url)
        self.stream = EventStream(redis, self.name)
        self.reaper = Reaper(runtime, redis)
        self.stopping = threading.Event()
        self._last_sweep = 0.0

    def run(self) -> None:
        """Until stop(): reconnects with capped, jittered backoff when Redis or the DB fails."""
        failures = 0
        while not self.stopping.is_set():
            try:
                self.stream.ensure_group()
                while not self.stopping.is_set():
                    self.step()
                    failures = 0
            except Exception:
                failures += 1
                self.stream.restart()  # re-read what was delivered but not acknowledged
                delay = min(MAX_BACKOFF_SECONDS, 0.5 * 2 ** failures) * random.uniform(0.5, 1)
                log.exception("consumer loop failed; retrying in %.1fs", delay)
                self.stopping.wait(delay)

    def stop(self) -> None:
        self.stopping.set()

    def step(self) -> int:
        """One read-apply-ack round; returns how many entries it applied."""
        idle_ms = int(self.runtime.settings.consumer_claim_idle_seconds * 1000)
        entries = self.stream.read() or self.stream.claim_abandoned(idle_ms)
        if entries:
            self.apply(entries)
        self._maybe_sweep()
        return len(entries)

    def apply(self, entries) -> None:
        notify_url = self.runtime.settings.notify_url
        try:
            with self.runtime.db.write() as session:
                locked: dict = {}
                for _entry_id, event in entries:
                    apply_event(session, event, notify_url, locked)
        except Exception:
            log.exception("batch of %d events failed; applying one by one", len(entries))
            self._apply_singly(entries)
        self.stream.ack([entry_id for entry_id, _ in entries])

    def _apply_singly(self, entries) -> None:
        notify_url = self.runtime.settings.notify_url
        for entry_id, event in entries:
            try:
                with self.runtime.db.write() as session:
                    apply_event(session, event, notify_url)
            except OperationalError:
                raise  # the database is unreachable: keep the entry pending, retry later
            except Exception:
                # A poison entry is logged and acknowledged so it cannot block the stream.
                log.exception("dropping event %s that cannot be applied: %r", entry_id, event)

    def _maybe_sweep(self) -> None:
        """Every reaper period: lost workers first, then messages that never reached a queue."""
        if time.monotonic() - self._last_sweep < self.runtime.settings.reaper_interval_seconds:
            return
        self._last_sweep = time.monotonic()
        self.reaper.run_once()
        republish_unpublished(self.runtime)


def republish_unpublished(runtime) -> int:
    """Publish queued jobs whose message never reached the broker (the API lost Redis mid-way,
    a retry waiting out its interval) or whose message the broker lost (flush, restart without
    persistence). A message sent twice still runs once: the attempt's claim decides."""
    now = utcnow()
    with runtime.db.read() as session:
        jobs = session.scalars(select(Job).where(Job.status == JobStatus.QUEUED.value)
                               .order_by(Job.created_at).limit(RECONCILE_BATCH)).all()
    due = [job for job in jobs if _needs_publish(runtime, job, now)]
    return sum(publish_attempt(runtime, job) for job in due)


def _needs_publish(runtime, job: Job, now) -> bool:
    grace = timedelta(seconds=UNPUBLISHED_GRACE_SECONDS)
    if job.published_at is None:  # a retry waiting out its interval, or never sent
        waiting = job.not_before is not None and job.not_before > now
        return not waiting and now - job.created_at >= grace
    # Sent (or being sent right now by the API: hence the grace) but unknown to the broker.
    return now - job.published_at >= grace and message_lost(runtime.redis, job)
