"""Administration of users: list, inspect, change, remove (create_user lives in auth)."""
from __future__ import annotations


from sqlalchemy import func, select

from app.errors import Conflict, NotFound
from app.models import Membership, User, Workspace
from app.services.auth import set_password
from app.services.job_queries import Page


def list_users(session, *, page: int, page_size: int) -> Page:
    total = session.scalar(select(func.count()).select_from(User)) or 0
    rows = session.scalars(select(User).order_by(User.id)
                           .offset((page - 1) * page_size).limit(page_size)).all()
    return Page(list(rows), page, page_size, total)


def get_user(session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}; list users with GET /api/v1/admin/users")
    return user


def user_by_name(session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


def update_user(session, user: User, acting: User | None, *, password: str | None = None,
                is_admin: bool | None = None) -> User:
    """Reset the password (old tokens stop working) and/or grant or take the admin role."""
    if is_admin is False and acting is not None and acting.id == user.id:
        raise Conflict("you cannot take the admin role from yourself; ask another admin")
    if password is not None:
        set_password(session, user, password)
    if is_admin is not None:
        user.is_admin = is_admin
    return user


def delete_user(session, user: User, acting: User | None) -> None:
    """Remove a user; their tokens stop working at once and their jobs stay."""
    if acting is not None and acting.id == user.id:
        raise Conflict("you cannot delete your own account; ask another admin")
    session.delete(user)


def memberships_of(session, user_id: int) -> list[dict]:
    rows = session.execute(select(Workspace.id, Workspace.name, Membership.role)
                           .join(Membership, Membership.workspace_id == Workspace.id)
                           .where(Membership.user_id == user_id).order_by(Workspace.id)).all()
    return [{"workspace_id": wid, "name": name, "role": role} for wid, name, role in rows]


def describe(session, user: User) -> dict:
    return {"id": user.id, "username": user.username, "is_admin": user.is_admin,
            "created_at": user.created_at, "workspaces": memberships_of(session, user.id)}
