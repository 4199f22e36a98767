"""A job's webhook deliveries: list them, and send a dead one again."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.errors import Conflict, NotFound
from app.models import WebhookDelivery
from app.models.base import utcnow
from app.models.webhook import DeliveryState
from app.services.job_queries import get_job


def list_deliveries(session, job_id: str) -> list[WebhookDelivery]:
    get_job(session, job_id)
    return list(session.scalars(select(WebhookDelivery).where(WebhookDelivery.job_id == job_id)
                                .order_by(WebhookDelivery.id)))


def redeliver(runtime, job_id: str, delivery_id: int) -> WebhookDelivery:
    """Put a dead delivery back in line; it keeps its event id, so receivers can deduplicate.

    Who may do it is decided before this runs (app.api.security.authorize_job)."""
    with runtime.db.write() as session:
        get_job(session, job_id)
        row = session.get(WebhookDelivery, delivery_id)
        if row is None or row.job_id != job_id:
            raise NotFound(f"job {job_id} has no webhook delivery {delivery_id}; list them with "
                           f"GET /api/v1/training/jobs/{job_id}/webhooks")
        if row.state != DeliveryState.DEAD.value:
            raise Conflict(f"delivery {delivery_id} is {row.state}; only a dead delivery can be "
                           "sent again")
        now = utcnow()
        row.state, row.next_attempt_at, row.locked_until = DeliveryState.PENDING.value, now, None
        row.expires_at = now + timedelta(seconds=runtime.settings.webhook_max_age_seconds)
        return row
