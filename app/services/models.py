"""Seed 002's model commands: create a model with the job that trains it, activate, publish.
A project is a workspace; the model's job is an ordinary job of it (jobs.submit_job)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.errors import Conflict, InvalidInput
from app.models import BaseModel, Job, TrainedModel, User
from app.services import access, base_models, datasets, jobs
from app.services.access import Role
from app.services.model_view import ModelStatus, model_not_found, status_of

#: Fields of the body the model keeps as they are.
KEPT = ("name", "display_name", "language", "short_description", "long_description")


@dataclass(frozen=True)
class Release:
    """An explicit step after training: what the model must be, and what it becomes."""
    allowed: frozenset[ModelStatus]
    target: ModelStatus
    doing: str
    done: str


RELEASES = {"activate": Release(frozenset({ModelStatus.READY}), ModelStatus.ACTIVE,
                                "activating", "activated"),
            "publish": Release(frozenset({ModelStatus.READY, ModelStatus.ACTIVE}),
                               ModelStatus.PUBLISHED, "publishing", "published")}


def create_model(runtime, project_id: int, body: dict[str, Any], user: User) -> int:
    """Record the model and the queued job that trains its base model on its datasets, in one
    transaction; returns the model's id. 404 outside the project, 403 below manager, 400 for
    an unknown base model or dataset, 409 when the project has a model of that name."""
    with runtime.db.read() as session:
        access.check_workspace(session, user, project_id, Role.MANAGER, "creating models")
        base = base_models.base_for_training(session, body["base_id"])
    created: dict[str, int] = {}

    def attach(session, job: Job) -> None:
        created["id"] = _record(session, job, body, user.id)

    data = _job_data(base, body, project_id)
    _check_runnable(runtime.settings, base, data)
    try:
        jobs.submit_job(runtime, data, user.id, attach=attach)
    except IntegrityError:  # a concurrent request took the name between check and commit
        raise Conflict(_taken(body["name"], project_id)) from None
    return created["id"]


def _job_data(base: BaseModel, body: dict[str, Any], project_id: int) -> dict[str, Any]:
    """The job that trains the model: the base model's script, arguments and resources."""
    # Set here, after the API refused TRAINQ_* from users; the worker passes it on.
    envs = {"TRAINQ_BASE_DIR": base.weights_path} if base.weights_path else {}
    return {"name": body["name"], "workspace_id": project_id, "framework": base.framework,
            "script_path": base.script_path, "args": list(base.args or []), "cpu": base.cpu,
            "memory": base.memory, "gpu": base.gpu, "pool": base.pool, "envs": envs,
            "description": f"trains model {body['name']!r} from base model {base.name!r}"}


def _check_runnable(settings, base: BaseModel, data: dict[str, Any]) -> None:
    """A base model whose script or pool this deployment lost since it was declared is a 400
    on base_id, in words the model's creator can pass on, not on fields they never sent."""
    try:
        jobs.check_placement(settings, data)
    except InvalidInput as exc:
        problems = "; ".join(f"{field}: {', '.join(texts)}"
                             for field, texts in (exc.errors or {}).items())
        raise InvalidInput(errors={"base_id": [
            f"base model {base.name!r} cannot run on this deployment ({problems}); ask an "
            "administrator to fix it (GET /api/v1/admin/base-models)"]}) from None


def _record(session, job: Job, body: dict[str, Any], user_id: int) -> int:
    if session.scalar(select(TrainedModel.id).where(
            TrainedModel.workspace_id == job.workspace_id,
            TrainedModel.name == body["name"])) is not None:
        raise Conflict(_taken(body["name"], job.workspace_id))
    train, test = _dataset_ids(body)
    job.datasets = _resolve(session, body, train, test)
    model = TrainedModel(uuid=str(uuid.uuid4()), workspace_id=job.workspace_id,
                         base_id=body["base_id"], job_id=job.id, created_by=user_id,
                         datasets={"train": train, "test": test},
                         **{key: body.get(key) for key in KEPT})
    session.add(model)
    session.flush()
    return model.id


def _dataset_ids(body: dict[str, Any]) -> tuple[list[int], list[int]]:
    """annotation_ids serve as both sets; without them, the two lists as given."""
    if body.get("annotation_ids"):
        return list(body["annotation_ids"]), list(body["annotation_ids"])
    return list(body.get("trainset_annotation_ids") or []), \
        list(body.get("testset_annotation_ids") or [])


def _resolve(session, body: dict[str, Any], train: list[int], test: list[int]) -> dict | None:
    """Each list checked under its own field name, so a 400 says which one to change."""
    if body.get("annotation_ids"):
        return datasets.resolve(session, train, test, field="annotation_ids")
    datasets.resolve(session, test, field="testset_annotation_ids")
    return datasets.resolve(session, train, test, field="trainset_annotation_ids")


def _taken(name: str, project_id: int) -> str:
    return (f"project {project_id} already has a model named {name!r}; choose another name "
            f"(GET /api/v1/projects/{project_id}/models lists them)")


def release(runtime, project_id: int, model_id: int, user: User, action: str) -> Release:
    """Activate (a READY model) or publish (a READY or ACTIVE one); 409 otherwise."""
    step = RELEASES[action]
    with runtime.db.write() as session:
        access.check_workspace(session, user, project_id, Role.MANAGER, f"{step.doing} models")
        model = session.scalars(select(TrainedModel).where(
            TrainedModel.workspace_id == project_id, TrainedModel.id == model_id)
            .with_for_update()).one_or_none()
        if model is None:
            raise model_not_found(project_id, model_id)
        status = status_of(model, session.get(Job, model.job_id) if model.job_id else None)
        if status not in step.allowed:
            needed = " or ".join(sorted(s.value for s in step.allowed))
            raise Conflict(f"model {model.name!r} is {status.value}; only a {needed} model can "
                           f"be {step.done}" + _hint(status))
        model.release = step.target.value
    return step


def _hint(status: ModelStatus) -> str:
    if status in (ModelStatus.QUEUED, ModelStatus.TRAINING):
        return "; wait until its training has finished"
    if status is ModelStatus.FAILED:
        return "; its training did not finish: create a new model to train it again"
    return ""
