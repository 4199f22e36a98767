"""The job read model (services.job_view) in seed 004's Job shape: times as strings of ms since
the epoch, a timeline key only once reached, resources and price from the job's spec."""
from __future__ import annotations

import shlex
from datetime import datetime
from typing import Any

from app.domain.status import JobStatus
from app.models import Dataset, User
from app.models.base import utcnow
from app.services.job_view import JobView

#: auto_fault_tolerance_params is a deprecated field of the document; trainq has none.
NO_PARAMS = ""


def job_body(view: JobView, session, settings, sub_msg: str | None) -> dict[str, Any]:
    job = view.job
    body = {
        "job_id": job.id, "name": job.name, "status": job.status, "command": _command(job),
        "framework": job.framework, "framework_config": [_framework_config(job, settings)],
        "envs": [{"name": k, "value": v} for k, v in sorted((job.envs or {}).items())],
        "dataset_info": _dataset_info(session, job), "created_at": ms(job.created_at),
        "running_time_ms": str(_running_ms(job)), "timeline": _timeline(view),
        "current_running_round": job.attempt, "node_count": job.instance_count or 1,
        "node_infos": _nodes(view), "queue_id": job.queue, "queue_name": job.queue,
        "logic_compute_group_id": job.pool, "logic_compute_group_name": job.pool,
        "priority": job.priority, "task_priority": job.priority,
        "created_by": _user(session, job.created_by), "workspace_id": str(job.workspace_id),
        "project_id": str(job.workspace_id), "project_name": view.workspace_name,
        "auto_fault_tolerance": job.auto_fault_tolerance, "auto_fault_tolerance_params": NO_PARAMS,
        "fault_tolerance_max_retry": job.fault_tolerance_max_retry,
        "fault_tolerance_retry_interval_sec": job.fault_tolerance_retry_interval_sec,
        "enable_notification": job.notify_enabled is not False, "config_mode": 0,
        **{k: v for k, v in (job.recorded_fields or {}).items() if k != "image_type"}}
    optional = {"finished_at": ms(job.finished_at), "sub_msg": sub_msg,
                "max_running_time_ms": _text(job.max_running_time_ms),
                "tb_summary_path": job.tb_summary_path}
    body.update({k: v for k, v in optional.items() if v is not None})
    body.setdefault("enable_troubleshoot", False)
    return body


def ms(moment: datetime | None) -> str | None:
    return None if moment is None else str(round(moment.timestamp() * 1000))


def _text(value) -> str | None:
    return None if value is None else str(value)


def _command(job) -> str:
    """As submitted through seed 004; for a job from another API, what trainq runs."""
    if job.command:
        return job.command
    program = ["torchrun"] if job.launcher == "torchrun" else ["python"]
    return shlex.join([*program, job.script_path, *(job.args or [])])


def _framework_config(job, settings) -> dict[str, Any]:
    spec = settings.spec(job.spec_id) if job.spec_id else None
    count = job.instance_count or 1
    mem_gi = round(job.memory / (1 << 30), 3)
    config = {"cpu": job.cpu, "gpu_count": job.gpu, "mem_gi": mem_gi, "instance_count": count,
              "image": job.env_id or "default", "replicas_type": 0,
              "instance_spec_price_info": {
                  "cpu_count": job.cpu, "gpu_count": job.gpu, "memory_size_gib": mem_gi,
                  "total_price_per_hour": round((spec.price_per_hour if spec else 0.0) * count, 6)},
              "resource_spec_price": {"cpu_count": job.cpu, "gpu_count": job.gpu,
                                      "memory_size_gib": mem_gi,
                                      "logic_compute_group_id": job.pool}}
    extra = {"predef_id": job.spec_id, "shm_gi": job.shm_gi,
             "image_type": (job.recorded_fields or {}).get("image_type")}
    config.update({k: v for k, v in extra.items() if v is not None})
    return config


def _dataset_info(session, job) -> list[dict[str, str]]:
    entries = [entry for role in ("train", "test") for entry in (job.datasets or {}).get(role, [])]
    versions = {row.id: row.version for row in session.query(Dataset).filter(
        Dataset.id.in_([entry["id"] for entry in entries]))} if entries else {}
    return [{"dataset_id": str(entry["id"]), "path": entry["path"],
             "version_id": versions.get(entry["id"], "")} for entry in entries]


def _running_ms(job) -> int:
    if job.started_at is None:
        return 0
    end = job.finished_at or utcnow()
    return max(0, round((end - job.started_at).total_seconds() * 1000))


def _timeline(view: JobView) -> dict[str, str]:
    job = view.job
    prepared = job.published_at or job.started_at  # the GPUs were reserved for the attempt
    moments = {"created": job.created_at, "resource_prepared": prepared,
               "run": job.started_at, "finished": job.finished_at}
    return {key: ms(moment) for key, moment in moments.items() if moment is not None}


def _nodes(view: JobView) -> list[dict[str, str]]:
    """The hosts of the current attempt, by rank."""
    current = next((a for a in view.attempts if a.number == view.job.attempt), None)
    if current is None:
        return []
    if current.instances:
        return [{"node_name": i.get("worker") or ""} for i in current.instance_list]
    return [{"node_name": current.worker}] if current.worker else []


def _user(session, user_id: int | None) -> dict[str, Any]:
    user = session.get(User, user_id) if user_id is not None else None
    if user is None:
        return {}
    return {"id": str(user.id), "name": user.username, "created_at": ms(user.created_at),
            "global_role": 1 if user.is_admin else 0,
            "extra_info": {"login_name": user.username}}


def is_waiting(view: JobView) -> bool:
    return view.job.status == JobStatus.QUEUED.value
