"""Administration of workspaces and their members."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from app.domain.status import JobStatus
from app.errors import Conflict, InvalidInput, NotFound
from app.models import Job, Membership, User, Workspace
from app.services.access import Role
from app.services.job_queries import Page

#: Fields an admin may set on a workspace.
EDITABLE = ("name", "description", "max_gpus_per_job", "max_queued_jobs", "gpu_quota")
#: Largest gpu_quota: far above any cluster, low enough that a typo (an extra digit) is caught.
MAX_GPU_QUOTA = 100_000
GPU_QUOTA_ERROR = f"must be 0 to {MAX_GPU_QUOTA} GPUs; null (none in the CLI) means no quota"


def create_workspace(session, data: dict[str, Any]) -> Workspace:
    _check_gpu_quota(data)
    _require_free_name(session, data["name"])
    workspace = Workspace(**{k: data[k] for k in EDITABLE if k in data})
    session.add(workspace)
    session.flush()
    return workspace


def update_workspace(session, workspace: Workspace, data: dict[str, Any]) -> Workspace:
    _check_gpu_quota(data)
    if "name" in data and data["name"] != workspace.name:
        _require_free_name(session, data["name"])
    for key in EDITABLE:
        if key in data:
            setattr(workspace, key, data[key])
    return workspace


def delete_workspace(session, workspace: Workspace) -> None:
    jobs = session.scalar(select(func.count()).select_from(Job)
                          .where(Job.workspace_id == workspace.id))
    if jobs:
        raise Conflict(f"workspace {workspace.name!r} still has {jobs} jobs; delete them first "
                       "(a workspace's history is not thrown away by accident)")
    session.delete(workspace)


def get_workspace(session, ref: int | str) -> Workspace:
    """By id, or by name (the CLI's way)."""
    if isinstance(ref, int) or str(ref).isdigit():
        workspace = session.get(Workspace, int(ref)) if int(ref) < 2**63 else None
    else:
        workspace = session.scalar(select(Workspace).where(Workspace.name == ref))
    if workspace is None:
        raise NotFound(f"no workspace {ref!r}; list them with GET /api/v1/admin/workspaces")
    return workspace


def list_workspaces(session, *, page: int, page_size: int) -> Page:
    total = session.scalar(select(func.count()).select_from(Workspace)) or 0
    rows = session.scalars(select(Workspace).order_by(Workspace.id)
                           .offset((page - 1) * page_size).limit(page_size)).all()
    return Page([describe(session, w) for w in rows], page, page_size, total)


def describe(session, workspace: Workspace) -> dict:
    queued, in_use = _live_load(session, workspace)
    return {**{k: getattr(workspace, k) for k in ("id", *EDITABLE, "created_at")},
            "queued_jobs": queued, "gpus_in_use": in_use}


def _live_load(session, workspace: Workspace) -> tuple[int, int]:
    """Jobs queued and GPUs held by training jobs: one aggregate over its live jobs only."""
    queued, training = JobStatus.QUEUED.value, JobStatus.TRAINING.value
    row = session.execute(
        select(func.count().filter(Job.status == queued),
               func.sum(Job.gpu * Job.instance_count).filter(Job.status == training))
        .where(Job.workspace_id == workspace.id, Job.status.in_((queued, training)))).one()
    return row[0] or 0, row[1] or 0


def members(session, workspace: Workspace) -> list[dict]:
    rows = session.execute(select(User.id, User.username, Membership.role)
                           .join(Membership, Membership.user_id == User.id)
                           .where(Membership.workspace_id == workspace.id)
                           .order_by(User.username)).all()
    return [{"user_id": uid, "username": name, "role": role} for uid, name, role in rows]


def set_member(session, workspace: Workspace, user: User, role: Role) -> dict:
    """Add the user with `role`, or change their role; answers the membership."""
    membership = _membership(session, workspace, user)
    if membership is None:
        membership = Membership(workspace_id=workspace.id, user_id=user.id)
        session.add(membership)
    membership.role = Role(role).value
    session.flush()
    return {"user_id": user.id, "username": user.username, "role": membership.role}


def remove_member(session, workspace: Workspace, user: User) -> None:
    membership = _membership(session, workspace, user)
    if membership is None:
        raise NotFound(f"user {user.username!r} is not a member of workspace {workspace.name!r}")
    session.delete(membership)


def _membership(session, workspace: Workspace, user: User) -> Membership | None:
    return session.scalar(select(Membership).where(
        Membership.workspace_id == workspace.id, Membership.user_id == user.id))


def _check_gpu_quota(data: dict[str, Any]) -> None:
    # The API's schema checks this too; the CLI reaches the service without it.
    quota = data.get("gpu_quota")
    if quota is not None and not 0 <= quota <= MAX_GPU_QUOTA:
        raise InvalidInput(errors={"gpu_quota": [GPU_QUOTA_ERROR]})


def _require_free_name(session, name: str) -> None:
    if session.scalar(select(Workspace.id).where(Workspace.name == name)) is not None:
        raise Conflict(f"a workspace named {name!r} already exists")
