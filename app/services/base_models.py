"""Base models: the training recipes an operator declares and seed 002's `base_id` picks: the
script with its arguments and resources, and the epoch metric that scores what it trains."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.errors import Conflict, InvalidInput, NotFound
from app.models import BaseModel
from app.services.job_queries import Page
from app.services.jobs import check_placement

#: Seed 002's model types.
TYPES = ("ABSA", "CLASS", "LABEL", "CLASSLABEL")
#: What an operator declares; the rest of a row (id, created_at) is trainq's.
DECLARED = ("name", "type", "framework", "script_path", "args", "cpu", "memory", "gpu", "pool",
            "metric", "higher_is_better", "weights_path")
FIELDS = ("id", *DECLARED, "created_at")
LIST_HINT = "GET /api/v1/admin/base-models (or `trainq base-models list`) lists them"
_MAX_DB_ID = 2**63 - 1


def declare(session, settings, data: dict[str, Any]) -> BaseModel:
    """Record a base model that this deployment can run: its script must be inside
    TRAINQ_SCRIPT_ROOT and its resources must fit a pool, as for any job (400 otherwise)."""
    script, _ = check_placement(settings, data)
    _require_free(session, data["name"])
    base = BaseModel(**{key: data.get(key) for key in DECLARED})
    base.script_path, base.args = script, list(data.get("args") or [])
    base.higher_is_better = data.get("higher_is_better", True)
    session.add(base)
    try:
        session.flush()
    except IntegrityError:  # a concurrent twin took the name first
        raise Conflict(_taken(data["name"])) from None
    return base


def _require_free(session, name: str) -> None:
    if session.scalar(select(BaseModel.id).where(BaseModel.name == name)) is not None:
        raise Conflict(_taken(name))


def _taken(name: str) -> str:
    return f"a base model named {name!r} is already declared; choose another name"


def list_base_models(session, *, page: int, page_size: int) -> Page:
    total = session.scalar(select(func.count()).select_from(BaseModel)) or 0
    rows = session.scalars(select(BaseModel).order_by(BaseModel.id)
                           .offset((page - 1) * page_size).limit(page_size)).all()
    return Page([describe(base) for base in rows], page, page_size, total)


def get_base_model(session, base_id: int) -> BaseModel:
    base = session.get(BaseModel, base_id) if 0 < base_id <= _MAX_DB_ID else None
    if base is None:
        raise NotFound(f"no base model {base_id}; {LIST_HINT}")
    return base


def base_for_training(session, base_id: int) -> BaseModel:
    """The base model a new model names; an unknown one is the body's mistake (400)."""
    try:
        return get_base_model(session, base_id)
    except NotFound as exc:
        raise InvalidInput(errors={"base_id": [exc.message]}) from None


def describe(base: BaseModel) -> dict[str, Any]:
    return {key: getattr(base, key) for key in FIELDS}
