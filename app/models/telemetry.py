"""What a running job reports: per-epoch metrics, per-step values and its output lines."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow


class JobMetric(Base):
    """One epoch of one attempt; unique so a replayed event changes nothing. Each name in
    config.protocol.NAMED_METRICS has its own column."""

    __tablename__ = "job_metrics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)
    epoch: Mapped[int] = mapped_column(Integer)
    total_epochs: Mapped[Optional[int]] = mapped_column(Integer)
    loss: Mapped[Optional[float]] = mapped_column(Float)
    accuracy: Mapped[Optional[float]] = mapped_column(Float)
    val_loss: Mapped[Optional[float]] = mapped_column(Float)
    val_accuracy: Mapped[Optional[float]] = mapped_column(Float)
    f1_score: Mapped[Optional[float]] = mapped_column(Float)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reported_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("job_id", "attempt", "epoch",
                                       name="uq_job_metrics_job_attempt_epoch"),)


class JobStep(Base):
    """One training step of one attempt (rank 0's, as epochs) with the values the script
    reported. The primary key is the only index: it makes a replay a no-op and is the order a
    curve is read in, so one job's steps are one index range (on SQLite the rows themselves,
    WITHOUT ROWID); no surrogate id, as a job may report a million steps."""

    __tablename__ = "job_steps"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"),
                                        primary_key=True)
    attempt: Mapped[int] = mapped_column(Integer, primary_key=True)
    step: Mapped[int] = mapped_column(Integer, primary_key=True)
    values: Mapped[dict[str, Any]] = mapped_column(JSON)
    reported_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = ({"sqlite_with_rowid": False},)


class JobStepSpan(Base):
    """How many steps one attempt stored, and its first and last: written with the steps
    (app/services/events.py), so a curve of 100,000 steps is read without counting them."""

    __tablename__ = "job_step_spans"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"),
                                        primary_key=True)
    attempt: Mapped[int] = mapped_column(Integer, primary_key=True)
    steps: Mapped[int] = mapped_column(Integer)
    first_step: Mapped[int] = mapped_column(Integer)
    last_step: Mapped[int] = mapped_column(Integer)


class JobLogLine(Base):
    """One line a job's script printed; `seq` numbers lines per attempt and instance (`rank`,
    0 for a single-instance job), so replays are no-ops."""

    __tablename__ = "job_log_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)
    rank: Mapped[int] = mapped_column(Integer, default=0)
    seq: Mapped[int] = mapped_column(Integer)
    stream: Mapped[str] = mapped_column(String(8))
    line: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)

    # The unique key makes replays no-ops; the tail index matches the ORDER BY of `?lines=`
    # (job_queries.job_log_lines), so the last N lines are N rows read backwards, not a sort.
    __table_args__ = (UniqueConstraint("job_id", "attempt", "rank", "seq",
                                       name="uq_job_log_lines_job_attempt_rank_seq"),
                      Index("ix_job_log_lines_tail", "job_id", "attempt", "at", "rank", "seq"))
