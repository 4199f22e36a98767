"""The business system's notify contract (seeds/000): paths and bodies, built in one place."""
from __future__ import annotations

import math
from typing import Any

from app.domain.status import FAILURE_MESSAGE_LIMIT, NEEDS_FAILURE_MESSAGE, JobStatus

STATUS_PATH = "/api/model/train/notify/status"
RESULT_PATH = "/api/model/train/notify/result"

_DEFAULT_FAILURE = {JobStatus.FAILED: "training failed", JobStatus.CANCELLED: "cancelled"}


def train_task_id(job) -> str:
    """The id the business system knows: its own external_id when it gave one."""
    return job.external_id or job.id


def status_payload(job, status: JobStatus, message: str | None) -> dict[str, Any]:
    payload: dict[str, Any] = {"trainTaskId": train_task_id(job), "statusType": status.status_type}
    if status in NEEDS_FAILURE_MESSAGE:
        payload["failureMessage"] = (message or _DEFAULT_FAILURE[status])[:FAILURE_MESSAGE_LIMIT]
    return payload


def result_payload(job, metric) -> dict[str, Any]:
    return {
        "trainTaskId": train_task_id(job),
        "epoch": metric.epoch,
        "accuracy": _finite(metric.accuracy),
        "loss": _finite(metric.loss),
        "valAccuracy": _finite(metric.val_accuracy),
        "valLoss": _finite(metric.val_loss),
        "f1Score": _finite(metric.f1_score),
    }


def _finite(value: float | None) -> float | None:
    # JSON has no NaN or Infinity; a receiver's parser would reject the whole body.
    return value if value is not None and math.isfinite(value) else None
