"""Deliver the outbox: in order per job, many jobs at once, with capped jittered backoff."""
from __future__ import annotations

import logging
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import requests
from sqlalchemy import func, select

from app.models import WebhookDelivery
from app.models.base import utcnow
from app.models.webhook import DeliveryState
from app.webhooks.sender import Outcome, send

log = logging.getLogger(__name__)

POLL_SECONDS = 0.1
BACKOFF_BASE_SECONDS, BACKOFF_CAP_SECONDS = 1.0, 300.0


def backoff_seconds(attempts: int) -> float:
    """Exponential in the number of failed attempts, capped, with jitter in [50%, 100%]."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return ceiling * random.uniform(0.5, 1.0)


class Dispatcher:
    def __init__(self, runtime):
        self.runtime = runtime
        self.settings = runtime.settings
        self.stopping = threading.Event()
        self.in_flight: set[str] = set()
        self.lock = threading.Lock()
        self.http = requests.Session()
        self.http.trust_env = False  # a proxy from the environment must not see the payloads
        self.pool = ThreadPoolExecutor(self.settings.webhook_concurrency,
                                       thread_name_prefix="webhook")

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.step()
            except Exception:
                log.exception("webhook dispatch round failed")
                self.stopping.wait(1)
            self.stopping.wait(POLL_SECONDS)
        self.pool.shutdown(wait=True)

    def stop(self) -> None:
        self.stopping.set()

    def step(self) -> int:
        """Start sending each job's oldest due delivery that is not already being sent."""
        due = self._due_heads()
        for delivery in due:
            with self.lock:
                self.in_flight.add(delivery.job_id)
            self.pool.submit(self._deliver, delivery)
        return len(due)

    def _due_heads(self) -> list[WebhookDelivery]:
        with self.lock:
            busy = set(self.in_flight)
        heads = (select(func.min(WebhookDelivery.id))
                 .where(WebhookDelivery.state == DeliveryState.PENDING.value)
                 .group_by(WebhookDelivery.job_id))
        with self.runtime.db.read() as session:
            rows = session.scalars(select(WebhookDelivery).where(
                WebhookDelivery.id.in_(heads), WebhookDelivery.next_attempt_at <= utcnow())
                .order_by(WebhookDelivery.id).limit(200)).all()
        return [row for row in rows if row.job_id not in busy]

    def _deliver(self, delivery: WebhookDelivery) -> None:
        try:
            outcome = send(self.http, delivery.url, delivery.event_id, delivery.payload,
                           timeout=self.settings.webhook_timeout_seconds,
                           secret=self.settings.webhook_secret)
            self._record(delivery.id, outcome)
        except Exception:
            log.exception("recording delivery %s failed", delivery.id)
        finally:
            with self.lock:
                self.in_flight.discard(delivery.job_id)

    def _record(self, delivery_id: int, outcome: Outcome) -> None:
        with self.runtime.db.write() as session:
            row = session.get(WebhookDelivery, delivery_id)
            if row is None or row.state != DeliveryState.PENDING.value:
                return
            row.attempts += 1
            row.last_status_code, row.last_error = outcome.status_code, outcome.error
            if outcome.delivered:
                row.state, row.delivered_at = DeliveryState.DELIVERED.value, utcnow()
            elif utcnow() - row.created_at > timedelta(seconds=self.settings.webhook_max_age_seconds):
                row.state = DeliveryState.DEAD.value
                log.warning("webhook %s to %s is dead after %d attempts: %s", row.event_id,
                            row.url, row.attempts, outcome.error)
            else:
                row.next_attempt_at = utcnow() + timedelta(seconds=backoff_seconds(row.attempts))
