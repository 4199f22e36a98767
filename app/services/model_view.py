"""Seed 002's model read model: a model's own fields, with the status, progress and score that
its training job gives it until an operator activates or publishes it."""
from __future__ import annotations

import enum
from collections import defaultdict
from typing import Any

from sqlalchemy import and_, func, or_, select

from app.domain.status import JobStatus
from app.errors import NotFound
from app.models import BaseModel, Job, JobMetric, TrainedModel, User
from app.services.job_queries import Page
from config.protocol import NAMED_METRICS


class ModelStatus(str, enum.Enum):
    CREATED = "CREATED"
    QUEUED = "QUEUED"
    TRAINING = "TRAINING"
    FAILED = "FAILED"
    READY = "READY"
    ACTIVE = "ACTIVE"
    PUBLISHED = "PUBLISHED"


#: The model's status while its job decides it. CREATED is never answered: a model and its
#: job are recorded in one transaction, so no model exists before its job does; a job waiting
#: for a retry is QUEUED again, and a stopped one FAILED (the model was not trained).
FROM_JOB = {JobStatus.QUEUED: ModelStatus.QUEUED, JobStatus.TRAINING: ModelStatus.TRAINING,
            JobStatus.COMPLETED: ModelStatus.READY, JobStatus.FAILED: ModelStatus.FAILED,
            JobStatus.CANCELLED: ModelStatus.FAILED}


def status_of(model: TrainedModel, job: Job | None) -> ModelStatus:
    if model.release:
        return ModelStatus(model.release)
    if job is None:  # its job was deleted: no training and no artifact is left
        return ModelStatus.FAILED
    return FROM_JOB[JobStatus(job.status)]


def progress_of(job: Job | None, epochs: list[JobMetric]) -> float:
    """0–100: the current attempt's last epoch of its total_epochs; 100 once trained."""
    if job is not None and job.status == JobStatus.COMPLETED.value:
        return 100.0
    last = epochs[-1] if epochs else None
    if last is None or not last.total_epochs:
        return 0.0
    return round(min(100.0, 100.0 * last.epoch / last.total_epochs), 2)


def score_of(base: BaseModel, epochs: list[JobMetric]) -> float | None:
    """The base model's metric at the best epoch of the current attempt; None before any."""
    values = [v for v in (_metric(row, base.metric) for row in epochs) if v is not None]
    if not values:
        return None
    return max(values) if base.higher_is_better else min(values)


def _metric(row: JobMetric, name: str) -> float | None:
    value = getattr(row, name) if name in NAMED_METRICS else (row.extra or {}).get(name)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def list_models(session, project_id: int, *, page: int, page_size: int) -> Page:
    """The project's models, newest first."""
    where = TrainedModel.workspace_id == project_id
    total = session.scalar(select(func.count()).select_from(TrainedModel).where(where)) or 0
    rows = session.execute(_rows().where(where)
                           .order_by(TrainedModel.created_at.desc(), TrainedModel.id.desc())
                           .offset((page - 1) * page_size).limit(page_size)).all()
    return Page(_describe_all(session, rows), page, page_size, total)


def get_model(session, project_id: int, model_id: int) -> dict[str, Any]:
    row = session.execute(_rows().where(TrainedModel.workspace_id == project_id,
                                        TrainedModel.id == model_id)).first()
    if row is None:
        raise model_not_found(project_id, model_id)
    return _describe_all(session, [row])[0]


def model_not_found(project_id: int, model_id: int) -> NotFound:
    return NotFound(f"no model {model_id} in project {project_id}; list them with "
                    f"GET /api/v1/projects/{project_id}/models")


def model_of_job(session, job_id: str) -> int | None:
    """The id of the model a job trains; None for a job no model owns."""
    return session.scalar(select(TrainedModel.id).where(TrainedModel.job_id == job_id))


def _rows():
    return (select(TrainedModel, BaseModel, Job, User.username)
            .join(BaseModel, BaseModel.id == TrainedModel.base_id)
            .outerjoin(Job, Job.id == TrainedModel.job_id)
            .outerjoin(User, User.id == TrainedModel.created_by))


def _describe_all(session, rows) -> list[dict[str, Any]]:
    epochs = _current_epochs(session, [job for _, _, job, _ in rows if job is not None])
    return [describe(model, base, job, owner, epochs.get(job.id if job else None, []))
            for model, base, job, owner in rows]


def _current_epochs(session, jobs: list[Job]) -> dict[str, list[JobMetric]]:
    """Each job's epochs of its current attempt, in order, in one query."""
    if not jobs:
        return {}
    current = or_(*(and_(JobMetric.job_id == job.id, JobMetric.attempt == job.attempt)
                    for job in jobs))
    query = select(JobMetric).where(current)
    found: dict[str, list[JobMetric]] = defaultdict(list)
    for row in session.scalars(query.order_by(JobMetric.job_id, JobMetric.epoch)):
        found[row.job_id].append(row)
    return found


def describe(model: TrainedModel, base: BaseModel, job: Job | None, owner: str | None,
             epochs: list[JobMetric]) -> dict[str, Any]:
    """Seed 002's model."""
    return {"id": model.id, "uuid": model.uuid, "name": model.name,
            "display_name": model.display_name, "language": model.language,
            "short_description": model.short_description,
            "long_description": model.long_description, "project_id": model.workspace_id,
            "base": base.name, "type": base.type, "owner": owner, "created": model.created_at,
            "status": status_of(model, job).value, "progress": progress_of(job, epochs),
            "score": score_of(base, epochs), "job_id": model.job_id}
