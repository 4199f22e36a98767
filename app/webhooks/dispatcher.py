"""Deliver the outbox: in order per job, many jobs at once, with capped jittered backoff."""
from __future__ import annotations

import logging
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import func, or_, select, update

from app.metrics import record
from app.metrics.catalogue import DeliveryOutcome
from app.models import WebhookDelivery
from app.models.base import utcnow
from app.models.webhook import DeliveryState
from app.webhooks.sender import Outcome, send
from app.webhooks.transport import guarded_session

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
        # Connects only to addresses the SSRF rule accepts, checked at connect time; no proxy.
        self.http = guarded_session(self.settings.notify_allow_cidrs)
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
        """Each job's oldest pending delivery, if due and not held by another dispatcher."""
        with self.lock:
            busy = set(self.in_flight)
        heads = (select(func.min(WebhookDelivery.id))
                 .where(WebhookDelivery.state == DeliveryState.PENDING.value)
                 .group_by(WebhookDelivery.job_id))
        now = utcnow()
        with self.runtime.db.read() as session:
            rows = session.scalars(select(WebhookDelivery).where(
                WebhookDelivery.id.in_(heads), WebhookDelivery.next_attempt_at <= now)
                .order_by(WebhookDelivery.id).limit(200)).all()
        free = [row for row in rows if row.job_id not in busy]
        return self._lock(free) if free else []

    def _lock(self, rows: list[WebhookDelivery]) -> list[WebhookDelivery]:
        """Take each row with a compare-and-set, so two consumer processes never both send it."""
        now = utcnow()
        hold = now + timedelta(seconds=self.settings.webhook_timeout_seconds + 30)
        taken = []
        with self.runtime.db.write() as session:
            for row in rows:
                result = session.execute(update(WebhookDelivery).where(
                    WebhookDelivery.id == row.id,
                    WebhookDelivery.state == DeliveryState.PENDING.value,
                    or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until < now))
                    .values(locked_until=hold))
                if result.rowcount == 1:
                    taken.append(row)
        return taken

    def _deliver(self, delivery: WebhookDelivery) -> None:
        try:
            outcome = send(self.http, delivery.url, delivery.event_id, delivery.payload,
                           timeout=self.settings.webhook_timeout_seconds,
                           key=self.settings.webhook_key)
            counted = self._record(delivery.id, outcome)
            if counted is not None:  # after the commit: a rolled-back attempt is not counted
                record.webhook_delivery(self.runtime.redis, counted)
        except Exception:
            log.exception("recording delivery %s failed", delivery.id)
        finally:
            with self.lock:
                self.in_flight.discard(delivery.job_id)

    def _record(self, delivery_id: int, outcome: Outcome) -> DeliveryOutcome | None:
        """Store the attempt's outcome; None when the row was no longer this sender's."""
        with self.runtime.db.write() as session:
            row = session.get(WebhookDelivery, delivery_id)
            if row is None or row.state != DeliveryState.PENDING.value:
                return None
            row.attempts += 1
            row.last_status_code, row.last_error = outcome.status_code, outcome.error
            row.locked_until = None
            if outcome.delivered:
                row.state, row.delivered_at = DeliveryState.DELIVERED.value, utcnow()
                return DeliveryOutcome.DELIVERED
            if outcome.gone or utcnow() >= self._expiry(row):
                row.state = DeliveryState.DEAD.value
                log.warning("webhook %s to %s is dead after %d attempts: %s", row.event_id,
                            row.url, row.attempts, outcome.error)
                return DeliveryOutcome.DEAD
            wait = max(backoff_seconds(row.attempts), outcome.retry_after or 0)
            row.next_attempt_at = utcnow() + timedelta(seconds=wait)
            return DeliveryOutcome.FAILED

    def _expiry(self, row: WebhookDelivery):
        return row.expires_at or row.created_at + timedelta(
            seconds=self.settings.webhook_max_age_seconds)
