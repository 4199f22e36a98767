"""The consumer's main loop: read a batch, apply it in one transaction, acknowledge after commit."""
from __future__ import annotations

import logging
import os
import socket
import threading
import time

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from app.consumer.stream import EventStream, stream_client
from app.domain.status import JobStatus
from app.models import Job
from app.services.events import apply_event
from app.services.publishing import publish_attempt

log = logging.getLogger(__name__)

ABANDONED_AFTER_MS = 60_000
RECONCILE_EVERY_SECONDS = 10
UNPUBLISHED_GRACE_SECONDS = 5
MAX_BACKOFF_SECONDS = 30


class Consumer:
    def __init__(self, runtime, name: str | None = None):
        self.runtime = runtime
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.stream = EventStream(stream_client(runtime.settings.redis_url), self.name)
        self.stopping = threading.Event()
        self._last_reconcile = 0.0

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
                delay = min(MAX_BACKOFF_SECONDS, 0.5 * 2 ** failures) * (0.5 + os.urandom(1)[0] / 510)
                log.exception("consumer loop failed; retrying in %.1fs", delay)
                self.stopping.wait(delay)

    def stop(self) -> None:
        self.stopping.set()

    def step(self) -> int:
        """One read-apply-ack round; returns how many entries it applied."""
        entries = self.stream.read() or self.stream.claim_abandoned(ABANDONED_AFTER_MS)
        if entries:
            self.apply(entries)
        self._maybe_reconcile()
        return len(entries)

    def apply(self, entries) -> None:
        notify_url = self.runtime.settings.notify_url
        try:
            with self.runtime.db.write() as session:
                for _entry_id, event in entries:
                    apply_event(session, event, notify_url)
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

    def _maybe_reconcile(self) -> None:
        if time.monotonic() - self._last_reconcile < RECONCILE_EVERY_SECONDS:
            return
        self._last_reconcile = time.monotonic()
        republish_unpublished(self.runtime)


def republish_unpublished(runtime) -> int:
    """Publish queued jobs whose message never reached the broker (the API lost Redis mid-way)."""
    cutoff = time.time() - UNPUBLISHED_GRACE_SECONDS
    with runtime.db.read() as session:
        jobs = [job for job in session.scalars(
            select(Job).where(Job.status == JobStatus.QUEUED.value, Job.published_at.is_(None))
            .order_by(Job.created_at).limit(100)) if job.created_at.timestamp() < cutoff]
    return sum(publish_attempt(runtime, job) for job in jobs)
