"""The job aggregate: the job row, its status timeline and its attempts."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import (JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, utcnow
from config.protocol import DEFAULT_ENV, TaskSpec, dataset_paths


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[Optional[str]] = mapped_column(Text)
    #: Who may see the job: members of this workspace (RESTRICT: a workspace with jobs stays).
    workspace_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("workspaces.id", ondelete="RESTRICT"))
    framework: Mapped[str] = mapped_column(String(20))
    script_path: Mapped[str] = mapped_column(String(1024))
    args: Mapped[list[str]] = mapped_column(JSON, default=list)
    envs: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    dataset_id: Mapped[Optional[int]] = mapped_column(BigInteger)
    cpu: Mapped[int] = mapped_column(Integer)
    memory: Mapped[int] = mapped_column(BigInteger)
    gpu: Mapped[int] = mapped_column(Integer)
    priority: Mapped[int] = mapped_column(Integer)
    pool: Mapped[str] = mapped_column(String(32))
    queue: Mapped[str] = mapped_column(String(64))
    max_running_time_ms: Mapped[Optional[int]] = mapped_column(BigInteger)
    notify_url: Mapped[Optional[str]] = mapped_column(String(2048))
    external_id: Mapped[Optional[str]] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    failure_message: Mapped[Optional[str]] = mapped_column(Text)
    created_by: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    started_at: Mapped[Optional[datetime]]
    finished_at: Mapped[Optional[datetime]]
    stop_requested_at: Mapped[Optional[datetime]]
    #: When the scheduler placed the current attempt and sent it to its host(s); NULL while
    #: it waits to be placed.
    published_at: Mapped[Optional[datetime]]
    #: A retried attempt is placed no earlier than this (fault_tolerance_retry_interval_sec).
    not_before: Mapped[Optional[datetime]]
    #: Retry the job as a new attempt when its worker is lost (seed 004's fault tolerance).
    auto_fault_tolerance: Mapped[bool] = mapped_column(Boolean, default=True)
    fault_tolerance_max_retry: Mapped[int] = mapped_column(Integer, default=2)
    fault_tolerance_retry_interval_sec: Mapped[int] = mapped_column(Integer, default=5)
    #: A job of strictly higher priority that waited long enough may take its GPUs back.
    preemptible: Mapped[bool] = mapped_column(Boolean, default=True)
    #: config.protocol.Launcher: "python", or "torchrun" with nproc_per_node processes.
    launcher: Mapped[str] = mapped_column(String(16), default="python")
    nproc_per_node: Mapped[Optional[int]] = mapped_column(Integer)
    #: Instances placed at once on as many hosts of the pool, each with `gpu` GPUs (a gang).
    instance_count: Mapped[int] = mapped_column(Integer, default=1)
    #: The runtime environment (a named interpreter a host declares); None: "default".
    env_id: Mapped[Optional[str]] = mapped_column(String(64))
    #: The registered datasets it reads, as resolved when it was submitted:
    #: {"train": [{"id", "path"}], "test": [...]} with paths under TRAINQ_DATASET_ROOT.
    datasets: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)
    #: False: no webhooks for this job (seed 004's enable_notification).
    notify_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Seed 004's resource spec (TRAINQ_SPECS) and shared memory, as asked.
    spec_id: Mapped[Optional[str]] = mapped_column(String(64))
    shm_gi: Mapped[Optional[float]] = mapped_column(Float)
    #: A TensorBoard directory under the job's output, given to the script as TRAINQ_TB_DIR.
    tb_summary_path: Mapped[Optional[str]] = mapped_column(String(1024))
    #: Seed 004's `command` as submitted (script_path and args are what runs).
    command: Mapped[Optional[str]] = mapped_column(Text)
    #: Fields an adapter accepts and returns as sent but trainq does not act on (seed 004's
    #: reserve_on_*_ms, enable_troubleshoot, image_type).
    recorded_fields: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)
    #: Jobs submitted in one POST /api/v1/training/jobs/batch (a sweep) share it.
    batch_id: Mapped[Optional[str]] = mapped_column(String(40))

    transitions: Mapped[list["JobTransition"]] = relationship(
        back_populates="job", order_by="JobTransition.id", cascade="all, delete-orphan",
        passive_deletes=True)
    attempts: Mapped[list["JobAttempt"]] = relationship(
        back_populates="job", order_by="JobAttempt.number", cascade="all, delete-orphan",
        passive_deletes=True)

    # The list's order is (created_at, id) newest first; each of its filters (and workspace
    # with status, a member's usual ask) has an index that ends in that order (migration 0010),
    # so a filtered page or a keyset cursor into it is one index range. finished_at: the log
    # retention sweep (app/consumer/retention.py).
    __table_args__ = (
        Index("ix_jobs_status_priority_created", "status", "priority", "created_at"),
        Index("ix_jobs_created_id", "created_at", "id"),
        Index("ix_jobs_workspace_created_id", "workspace_id", "created_at", "id"),
        Index("ix_jobs_status_created_id", "status", "created_at", "id"),
        Index("ix_jobs_workspace_status_created_id", "workspace_id", "status", "created_at", "id"),
        Index("ix_jobs_batch_created_id", "batch_id", "created_at", "id"),
        Index("ix_jobs_finished_id", "finished_at", "id"),
    )

    def task_spec(self) -> TaskSpec:
        """What a worker needs to run the job; it never reads the database itself."""
        return TaskSpec(script_path=self.script_path, args=tuple(self.args or ()),
                        envs=dict(self.envs or {}), framework=self.framework,
                        dataset_id=self.dataset_id, max_running_time_ms=self.max_running_time_ms,
                        cpu=self.cpu, memory=self.memory, gpu=self.gpu,
                        launcher=self.launcher or "python", nproc_per_node=self.nproc_per_node,
                        env_id=self.env_id or DEFAULT_ENV, datasets=dataset_paths(self.datasets),
                        tb_summary_path=self.tb_summary_path)


def _datetime(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


class JobTransition(Base):
    """One accepted status change: the job's timeline."""

    __tablename__ = "job_transitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    from_status: Mapped[Optional[str]] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    message: Mapped[Optional[str]] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)

    job: Mapped[Job] = relationship(back_populates="transitions")


class JobAttempt(Base):
    """One run of a job on one worker slot."""

    __tablename__ = "job_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    worker: Mapped[Optional[str]] = mapped_column(String(200))
    gpus: Mapped[Optional[str]] = mapped_column(String(200))
    pid: Mapped[Optional[int]] = mapped_column(Integer)
    started_at: Mapped[Optional[datetime]]
    finished_at: Mapped[Optional[datetime]]
    exit_code: Mapped[Optional[int]] = mapped_column(Integer)
    exit_signal: Mapped[Optional[str]] = mapped_column(String(16))
    failure_class: Mapped[Optional[str]] = mapped_column(String(32))
    message: Mapped[Optional[str]] = mapped_column(Text)
    #: False for an attempt lost through no fault of the job (preempted): a free retry.
    counts_against_retries: Mapped[bool] = mapped_column(Boolean, default=True)
    #: A gang's instances by rank ("0", "1", …): worker, gpus, pid, started_at, and how each
    #: ended (outcome, exit_code, failure_class). NULL for a single-instance job.
    instances: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)

    @property
    def instance_list(self) -> list[dict[str, Any]]:
        """The instances by rank, each with its rank: what the API shows."""
        known = self.instances or {}
        return [{**known[rank], "rank": int(rank),
                 "started_at": _datetime(known[rank].get("started_at"))}
                for rank in sorted(known, key=int)]

    job: Mapped[Job] = relationship(back_populates="attempts")

    __table_args__ = (UniqueConstraint("job_id", "number", name="uq_job_attempts_job_number"),)
