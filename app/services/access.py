"""Who may see and change what: every authorization decision of the API is made here.

A user is a global admin (everything) or a member of workspaces with a role: a viewer reads,
a manager also submits, stops and deletes. Jobs of a workspace the caller does not belong to do
not exist for them: 404, never 403, so an id cannot be probed.
"""
from __future__ import annotations

import enum

from sqlalchemy import Select, select

from app.errors import Forbidden, InvalidInput, NotFound
from app.models import Job, Membership, User, Workspace


class Role(str, enum.Enum):
    VIEWER = "viewer"
    MANAGER = "manager"

    @property
    def rank(self) -> int:
        return ROLE_ORDER.index(self)


ROLE_ORDER = (Role.VIEWER, Role.MANAGER)
ROLES = tuple(role.value for role in ROLE_ORDER)
#: Methods that only read; every other method changes something and needs a manager.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def role_for_method(method: str) -> Role:
    return Role.VIEWER if method.upper() in READ_METHODS else Role.MANAGER


def require_admin(user: User) -> None:
    if not user.is_admin:
        raise Forbidden("this needs the admin role; ask an administrator")


def role_in(session, user: User, workspace_id: int) -> Role | None:
    """The user's role in the workspace (an admin counts as a manager everywhere)."""
    if user.is_admin:
        return Role.MANAGER
    role = session.scalar(select(Membership.role).where(
        Membership.user_id == user.id, Membership.workspace_id == workspace_id))
    return Role(role) if role else None


def member_workspace_ids(user: User) -> Select:
    """A subquery of the ids of the workspaces the user belongs to, with any role."""
    return select(Membership.workspace_id).where(Membership.user_id == user.id)


def visible_workspace_ids(session, user: User) -> list[int] | None:
    """The workspaces whose jobs the user may read; None for an admin, who reads them all."""
    if user.is_admin:
        return None
    return list(session.scalars(member_workspace_ids(user)))


def visible_jobs(query: Select, user: User) -> Select:
    """`query` over Job narrowed to what the user may read; no filter can widen it again."""
    if user.is_admin:
        return query
    return query.where(Job.workspace_id.in_(member_workspace_ids(user)))


def job_not_found(job_id: str) -> NotFound:
    return NotFound(f"no training job {job_id!r}; list jobs with GET /api/v1/training/jobs")


def check_job(session, user: User, job_id: str, need: Role) -> Job:
    """The job if the user may act on it with `need`; 404 if they may not even see it."""
    job = session.get(Job, job_id)
    role = role_in(session, user, job.workspace_id) if job is not None else None
    if role is None:
        raise job_not_found(job_id)
    if role.rank < need.rank:
        workspace = session.get(Workspace, job.workspace_id)
        raise _needs(need, role, workspace, "changing this job")
    return job


def check_workspace(session, user: User, workspace_id: int, need: Role, action: str) -> Workspace:
    """The workspace if the user may do `action` in it with `need`; 404 unless they belong to
    it (exactly as for one that does not exist), 403 naming the role when theirs is below."""
    workspace = session.get(Workspace, workspace_id)
    role = role_in(session, user, workspace_id) if workspace is not None else None
    if role is None:
        raise NotFound(f"no workspace {workspace_id} that you belong to; GET /api/v1/me lists "
                       "yours")
    if role.rank < need.rank:
        raise _needs(need, role, workspace, action)
    return workspace


def submit_workspace(session, user_id: int | None, workspace_id: int | None) -> Workspace:
    """The workspace a new job goes to: the one named, or the caller's only managed one."""
    user = session.get(User, user_id) if user_id is not None else None
    if user is None:
        raise Forbidden("only a signed-in user can submit jobs")
    if workspace_id is None:
        workspace_id = _default_workspace_id(session, user)
    workspace = session.get(Workspace, workspace_id)
    role = role_in(session, user, workspace_id) if workspace is not None else None
    if role is None:
        raise InvalidInput(errors={"workspace_id": [
            f"no workspace {workspace_id} that you belong to; GET /api/v1/me lists yours"]})
    if role.rank < Role.MANAGER.rank:
        raise _needs(Role.MANAGER, role, workspace, "submitting jobs")
    return workspace


def _default_workspace_id(session, user: User) -> int:
    rows = session.execute(select(Membership.workspace_id, Membership.role)
                           .where(Membership.user_id == user.id)).all()
    managed = [wid for wid, role in rows if role == Role.MANAGER.value]
    if len(managed) == 1:
        return managed[0]
    if not managed and len(rows) == 1:
        return rows[0][0]  # their only workspace: the role check then names the role needed
    hint = (f"you manage several workspaces (ids {', '.join(map(str, sorted(managed)))}); "
            "name one" if managed else "you manage no workspace; name one you may submit to "
            "or ask an admin to make you a manager of one")
    raise InvalidInput(errors={"workspace_id": [f"required: {hint}"]})


def _needs(need: Role, role: Role, workspace: Workspace, action: str) -> Forbidden:
    return Forbidden(f"{action} needs the {need.value} role in workspace {workspace.name!r}; "
                     f"you are a {role.value} there (ask a manager or an admin)")
