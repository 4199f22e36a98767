"""What operators declare for jobs to use: registered datasets, and the base models that seed
002's models are trained from."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow

#: 64-bit ids, autoincrementing on SQLite too (which needs INTEGER for that).
CatalogueId = BigInteger().with_variant(Integer(), "sqlite")


class Dataset(Base):
    """A directory under TRAINQ_DATASET_ROOT that jobs name by id (seed 001's dataset_id, seed
    004's dataset_info, seed 002's annotation ids); the worker hands its path to the script."""

    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(CatalogueId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(64), default="1")
    #: Relative to TRAINQ_DATASET_ROOT, so each host may mount the root where it likes.
    path: Mapped[str] = mapped_column(String(1024))
    description: Mapped[Optional[str]] = mapped_column(Text)
    created_by: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("name", "version", name="uq_datasets_name_version"),)


class BaseModel(Base):
    """A training recipe an operator declares: the script, its resources and the metric that
    scores what it trains. Seed 002's `base_id` picks one."""

    __tablename__ = "base_models"

    id: Mapped[int] = mapped_column(CatalogueId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    #: Seed 002's model type: ABSA, CLASS, LABEL or CLASSLABEL.
    type: Mapped[str] = mapped_column(String(16))
    framework: Mapped[str] = mapped_column(String(20))
    script_path: Mapped[str] = mapped_column(String(1024))
    args: Mapped[list[str]] = mapped_column(JSON, default=list)
    cpu: Mapped[int] = mapped_column(Integer)
    memory: Mapped[int] = mapped_column(BigInteger)
    gpu: Mapped[int] = mapped_column(Integer)
    pool: Mapped[Optional[str]] = mapped_column(String(32))
    #: The epoch metric that is the model's score, and which way is better.
    metric: Mapped[str] = mapped_column(String(64))
    higher_is_better: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Pretrained weights the script starts from, as TRAINQ_BASE_DIR.
    weights_path: Mapped[Optional[str]] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
