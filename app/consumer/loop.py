"""The consumer's main loop: read a batch, apply it in one transaction, acknowledge after commit."""
from __future__ import annotations

import logging
import random
import socket
import threading
import time

from sqlalchemy.exc import OperationalError

from app.consumer.stream import EventStream, stream_client
from app.consumer.reaper import Reaper
from app.consumer.reconciler import Reconciler
from app.consumer.retention import LogRetention
from app.services.events import apply_event

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 30


class Consumer:
    def __init__(self, runtime, name: str | None = None):
        self.runtime = runtime
        # A stable name: a consumer restarted after a crash reads the entries it had not
        # acknowledged first, in order, before anything newer (a name with the pid in it left
        # them to be claimed after CLAIM_IDLE, after later events of the same job).
        self.name = name or socket.gethostname()
        redis = stream_client(runtime.settings.redis_url)
        self.stream = EventStream(redis, self.name)
        self.reaper = Reaper(runtime, redis)
        self.reconciler = Reconciler(runtime, redis)
        self.retention = LogRetention(runtime.db, runtime.settings.retention_days)
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
                    apply_event(session, event, notify_url, locked, self.stream.redis)
        except Exception:
            log.exception("batch of %d events failed; applying one by one", len(entries))
            self._apply_singly(entries)
        self.stream.ack([entry_id for entry_id, _ in entries])

    def _apply_singly(self, entries) -> None:
        notify_url = self.runtime.settings.notify_url
        for entry_id, event in entries:
            try:
                with self.runtime.db.write() as session:
                    apply_event(session, event, notify_url, redis=self.stream.redis)
            except OperationalError:
                raise  # the database is unreachable: keep the entry pending, retry later
            except Exception:
                # A poison entry is logged and acknowledged so it cannot block the stream.
                log.exception("dropping event %s that cannot be applied: %r", entry_id, event)

    def _maybe_sweep(self) -> None:
        """Every reaper period: lost workers first, then stop flags Redis lost, then (bounded)
        the logs past TRAINQ_RETENTION_DAYS."""
        if time.monotonic() - self._last_sweep < self.runtime.settings.reaper_interval_seconds:
            return
        self._last_sweep = time.monotonic()
        self.reaper.run_once()
        self.reconciler.run_once()
        self.retention.run_once()
