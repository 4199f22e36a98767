"""Workspaces (tenants), who belongs to them with which role, and revoked access tokens."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow

#: 64-bit ids (jobs.workspace_id is BIGINT); SQLite needs INTEGER for an autoincrementing key.
WorkspaceId = BigInteger().with_variant(Integer(), "sqlite")
#: Created by the migration; the bootstrap admin is a manager of it.
DEFAULT_WORKSPACE_ID = 1
DEFAULT_WORKSPACE_NAME = "default"


class Workspace(Base):
    """A team's space: its jobs are visible only to its members (and admins)."""

    __tablename__ = "workspaces"

    id: Mapped[int] = mapped_column(WorkspaceId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[Optional[str]] = mapped_column(Text)
    #: None: no limit beyond the largest pool slot.
    max_gpus_per_job: Mapped[Optional[int]] = mapped_column(Integer)
    #: None: no limit. Counted over jobs still queued, so a burst cannot hog the queue.
    max_queued_jobs: Mapped[Optional[int]] = mapped_column(Integer)
    #: GPUs its jobs may hold at once within its share (None: no quota). Idle GPUs may be
    #: borrowed beyond it; borrowed work is the first to go when a workspace under quota waits.
    gpu_quota: Mapped[Optional[int]] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Membership(Base):
    """A user's role in one workspace: 'viewer' (read) or 'manager' (read and write)."""

    __tablename__ = "workspace_members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workspace_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("workspaces.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("workspace_id", "user_id",
                                       name="uq_workspace_members_workspace_user"),)


class RevokedToken(Base):
    """A logged-out token's id, kept until the token would have expired anyway."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
