"""Seed 002's models: a named result of training a base model on datasets in a workspace
(seed 002's project). Its status follows its job until READY; ACTIVE and PUBLISHED are
explicit actions recorded here."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow
from app.models.catalogue import CatalogueId


class TrainedModel(Base):
    __tablename__ = "models"

    id: Mapped[int] = mapped_column(CatalogueId, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    display_name: Mapped[Optional[str]] = mapped_column(String(200))
    language: Mapped[Optional[str]] = mapped_column(String(8))
    short_description: Mapped[Optional[str]] = mapped_column(Text)
    long_description: Mapped[Optional[str]] = mapped_column(Text)
    base_id: Mapped[int] = mapped_column(ForeignKey("base_models.id", ondelete="RESTRICT"))
    #: The job that trains it; its output directory is the model's artifact.
    job_id: Mapped[Optional[str]] = mapped_column(
        ForeignKey("jobs.id", ondelete="SET NULL"), index=True)
    #: Dataset ids: {"train": [...], "test": [...]}.
    datasets: Mapped[dict] = mapped_column(JSON, default=dict)
    #: None while the job decides (CREATED … READY); "ACTIVE" or "PUBLISHED" once set by hand.
    release: Mapped[Optional[str]] = mapped_column(String(16))
    created_by: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("workspace_id", "name", name="uq_models_workspace_name"),)
