"""Job commands: submit, stop, delete. Each validates, then changes the database in one go."""
from __future__ import annotations

import logging
import secrets
from typing import Any, Callable

import redis as redis_lib
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.domain.status import JobStatus
from app.errors import Conflict, InvalidInput, NotFound, ServiceUnavailable
from app.models import Job
from app.models.base import utcnow
from app.services import access, datasets, idempotency
from app.services.quotas import check_quotas
from app.services.transitions import record_creation, transition
from app.webhooks.address import AddressRefused, check_url
from config.keys import cancel_key
from config.protocol import Launcher
from config.pools import pool_for
from config.queues import DEFAULT_PRIORITY, queue_name
from workers.allocations import wake_scheduler
from workers.claim import announce_stop
from workers.scripts import ScriptPathError, relative_script

log = logging.getLogger(__name__)

#: How long a stop request stays visible to workers; longer than any message waits in a queue.
CANCEL_TTL_SECONDS = 60 * 24 * 3600


def new_job_id() -> str:
    return f"job-{secrets.token_hex(8)}"


def submit_job(runtime, data: dict[str, Any], user_id: int | None,
               idempotency_key: str | None = None,
               attach: Callable[[Any, Job], None] | None = None) -> tuple[Job, bool]:
    """Validate against this deployment, record the job as queued, then wake the scheduler.

    `attach(session, job)` runs in the transaction that records the job, so what it records
    with it (seed 002's model) exists exactly when the job does, and its errors undo both.
    Returns (job, replayed): replayed is True when the Idempotency-Key named an earlier job."""
    if idempotency_key is not None:
        replayed = _replay(runtime, user_id, idempotency_key, data)
        if replayed is not None:
            return replayed, True
    job = build_job(runtime.settings, data, user_id)
    require_redis(runtime)
    try:
        with runtime.db.write() as session:
            _place_in_workspace(session, job, user_id, data)
            if job.dataset_id is not None:  # seed 001 names one dataset: the training data
                job.datasets = datasets.resolve(session, [job.dataset_id])
            session.add(job)
            session.flush()
            if attach is not None:
                attach(session, job)
            record_creation(session, job, runtime.settings.notify_url)
            if idempotency_key is not None:
                idempotency.remember(session, user_id, idempotency_key,
                                     idempotency.request_hash(data), job.id)
    except IntegrityError:
        if idempotency_key is None:
            raise
        return _replay(runtime, user_id, idempotency_key, data), True  # a concurrent twin won
    # The scheduler reads queued jobs from the database; the wake-up only spares it waiting
    # for its next cycle, so a lost one delays the job by at most a cycle.
    wake(runtime, job.pool)
    return job, False


def wake(runtime, *pools: str) -> None:
    """Tell the scheduler there is new work in `pools` (it would find it at its next cycle
    anyway)."""
    try:
        wake_scheduler(runtime.redis, *pools)
    except redis_lib.RedisError as exc:
        log.warning("could not wake the scheduler (%s); it places the job at its next cycle", exc)


def build_job(settings, data: dict[str, Any], user_id: int | None) -> Job:
    """A queued job from a validated submission, checked against this deployment (script root,
    pools, webhook address); not yet in a workspace or the database."""
    script, pool = check_placement(settings, data)
    job = Job(id=new_job_id(), status=JobStatus.QUEUED.value, attempt=1, script_path=script,
              pool=pool.name, created_by=user_id, created_at=utcnow(),
              priority=data.get("priority", DEFAULT_PRIORITY), **_copied_fields(data, settings))
    job.queue = queue_name(pool.name, job.priority)
    return job


def _place_in_workspace(session, job: Job, user_id: int | None, data: dict[str, Any]) -> None:
    """The caller must manage the job's workspace, and the job must fit the workspace's limits
    (checked in the transaction that records it, so a burst cannot overshoot them)."""
    workspace = access.submit_workspace(session, user_id, data.get("workspace_id"))
    check_quotas(session, workspace, job.gpu * job.instance_count)  # all its instances
    job.workspace_id = workspace.id


def _replay(runtime, user_id, key: str, data) -> Job | None:
    idempotency.check_key(key)
    with runtime.db.read() as session:
        job_id = idempotency.find_replay(session, user_id, key, idempotency.request_hash(data))
        return session.get(Job, job_id) if job_id else None


def stop_job(runtime, job_id: str) -> tuple[Job, str]:
    """Queued: cancelled now. Training: the worker is told to stop its process group."""
    require_redis(runtime)
    with runtime.db.write() as session:
        job = _locked_job(session, job_id)
        status = JobStatus(job.status)
        if status.is_terminal:
            raise Conflict(f"job {job_id} is already {status.value}; there is nothing to stop")
        job.stop_requested_at = utcnow()
        if status is JobStatus.QUEUED:
            transition(session, job, JobStatus.CANCELLED, attempt=job.attempt,
                       notify_url=runtime.settings.notify_url,
                       message="stopped by request before it started")
    # After the commit: a stop the database refused leaves no flag that would stop the job
    # anyway. If this write is lost, the reconciler re-raises the flag from stop_requested_at.
    flag_cancel(runtime.redis, job_id)
    if status is JobStatus.QUEUED:
        return job, "training job cancelled"
    return job, "training job stopping; it becomes cancelled when its process has exited"


def flag_cancel(redis, job_id: str) -> None:
    """Tell workers the job is stopped; they never start it, and one running it stops it."""
    try:
        redis.set(cancel_key(job_id), "1", ex=CANCEL_TTL_SECONDS)
    except redis_lib.RedisError as exc:
        log.warning("could not flag %s as stopped in Redis (%s); the reconciler will", job_id, exc)
        return
    announce_stop(redis, "cancel", job_id)


def delete_job(runtime, job_id: str) -> None:
    with runtime.db.write() as session:
        job = _locked_job(session, job_id)
        if not JobStatus(job.status).is_terminal:
            raise Conflict(f"job {job_id} is {job.status}; stop it first "
                           f"(POST /api/v1/training/jobs/{job_id}/stop), then delete it")
        session.delete(job)


def check_placement(settings, data: dict[str, Any]):
    """The confined script path and the pool of `data`; 400 naming each field to change."""
    errors: dict[str, list[str]] = {}
    script = pool = None
    try:
        script = relative_script(settings.script_root, data["script_path"])
    except ScriptPathError as exc:
        errors["script_path"] = [str(exc)]
    pool = pool_for(settings.pools, data["gpu"], data.get("pool"))
    if pool is None:
        errors.setdefault(*_pool_error(settings, data))
    if data.get("notify_url"):
        try:  # checked again when each webhook is sent: DNS answers change
            check_url(data["notify_url"], settings.notify_allow_cidrs)
        except AddressRefused as exc:
            errors["notify_url"] = [str(exc)]
    if errors:
        raise InvalidInput(errors=errors)
    return script, pool


def _pool_error(settings, data) -> tuple[str, list[str]]:
    largest = max(settings.pools, key=lambda p: p.gpus)
    named = data.get("pool")
    if named is not None and settings.pool(named) is None:
        names = ", ".join(p.name for p in settings.pools)
        return "pool", [f"unknown pool {named!r}; this deployment has: {names}"]
    where = f"pool {named!r}" if named else f"any pool (the largest slot, {largest.name!r}, "
    where += "" if named else f"offers {largest.gpus})"
    return "gpu", [f"{data['gpu']} GPUs do not fit {where}; ask for fewer GPUs"]


#: What seed 004's adapter records with a job (see models/job.py; `datasets` already resolved);
#: the native API sends none of them.
_ADAPTER_FIELDS = ("spec_id", "shm_gi", "tb_summary_path", "command", "recorded_fields",
                   "datasets")


def _copied_fields(data: dict[str, Any], settings) -> dict[str, Any]:
    names = ("name", "description", "workspace_id", "framework", "dataset_id", "cpu", "memory",
             "gpu", "max_running_time_ms", "notify_url", "external_id")
    fields = {name: data.get(name) for name in names}
    fields["args"] = list(data.get("args") or [])
    fields["envs"] = dict(data.get("envs") or {})
    fields["auto_fault_tolerance"] = data.get("auto_fault_tolerance", True)
    fields["preemptible"] = data.get("preemptible", True)
    fields["instance_count"] = data.get("instance_count", 1)
    fields["launcher"] = data.get("launcher") or _default_launcher(data)
    fields["nproc_per_node"] = data.get("nproc_per_node")
    fields["env_id"] = data.get("env_id")  # None: the default environment
    fields["notify_enabled"] = data.get("notify_enabled", True)
    for name in _ADAPTER_FIELDS:
        fields[name] = data.get(name)
    fields["fault_tolerance_max_retry"] = data.get("fault_tolerance_max_retry",
                                                   settings.max_retries)
    fields["fault_tolerance_retry_interval_sec"] = data.get(
        "fault_tolerance_retry_interval_sec", settings.retry_interval_seconds)
    return fields


def _default_launcher(data: dict[str, Any]) -> str:
    """The instances of a multi-host PyTorch job find each other through torchrun."""
    gang = data.get("instance_count", 1) > 1
    return Launcher.TORCHRUN if gang and data.get("framework") == "pytorch" else Launcher.PYTHON


def require_redis(runtime) -> None:
    try:
        runtime.redis.ping()
    except redis_lib.RedisError as exc:
        raise ServiceUnavailable(
            f"the job queue (Redis at {runtime.settings.redis_url}) is not answering ({exc}); "
            "nothing was changed, try again when it is back") from None


def _locked_job(session, job_id: str) -> Job:
    job = session.scalars(select(Job).where(Job.id == job_id).with_for_update()).one_or_none()
    if job is None:
        raise NotFound(f"no training job {job_id!r}; list jobs with GET /api/v1/training/jobs")
    return job
