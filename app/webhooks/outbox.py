"""Record a webhook that is owed, in the caller's transaction (so it is never lost or invented)."""
from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from app.domain.status import JobStatus
from app.models import Job, JobMetric, WebhookDelivery
from app.webhooks.payloads import RESULT_PATH, STATUS_PATH, result_payload, status_payload


def notify_base(job: Job, default_url: str) -> str | None:
    """Where the job's webhooks go; None when it has none (no URL, or seed 004's
    enable_notification=false: notify_enabled None on rows from before counts as on)."""
    if job.notify_enabled is False:
        return None
    base = job.notify_url or default_url
    return base.rstrip("/") if base else None


def owe_status(session: Session, job: Job, status: JobStatus, message: str | None,
               default_url: str) -> None:
    base = notify_base(job, default_url)
    if base:
        _add(session, job, "status", base + STATUS_PATH, status_payload(job, status, message))


def owe_result(session: Session, job: Job, metric: JobMetric, default_url: str) -> None:
    base = notify_base(job, default_url)
    if base:
        _add(session, job, "result", base + RESULT_PATH, result_payload(job, metric))


def _add(session: Session, job: Job, kind: str, url: str, payload: dict) -> None:
    session.add(WebhookDelivery(event_id=f"evt_{uuid.uuid4().hex}", job_id=job.id, kind=kind,
                                url=url, payload=payload))
