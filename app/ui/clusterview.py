"""The cluster page: per pool its queue in order (queue_position), per host its GPUs and who
holds each (the host registry, as services.hosts describes it)."""
from __future__ import annotations

from typing import Any

import redis as redis_lib
from sqlalchemy import func, select

from app.models import Job
from app.models.base import utcnow
from app.services import access
from app.services.hosts import describe
from app.ui.read_model import iso, queue_summary
from workers.hosts import read_hosts

#: Queued jobs shown per pool, first first; the rest are counted.
QUEUE_SHOWN = 50


def cluster_state(runtime, session, user) -> dict[str, Any]:
    try:
        now, records = read_hosts(runtime.redis)
    except redis_lib.RedisError as exc:
        return {"error": f"the host registry (Redis) is not answering ({exc})", "pools": [],
                "hosts": [], "clock": None, "is_admin": user.is_admin}
    held = {member.rpartition("|")[0] for record in records for member in record.jobs}
    visible = _visible(session, user, held)
    hosts = [_host(record, now, runtime.settings.lease_seconds, visible) for record in records]
    pools = [_pool(runtime, session, user, pool.name, hosts) for pool in runtime.settings.pools]
    # now: this server's time (the page's countdowns); clock: Redis' (heartbeat ages).
    return {"pools": pools, "hosts": hosts, "now": iso(utcnow()), "clock": now,
            "is_admin": user.is_admin}


def _visible(session, user, ids: set[str]) -> dict[str, str]:
    """The names of the jobs among `ids` that the user may see, by id."""
    if not ids:
        return {}
    query = select(Job.id, Job.name).where(Job.id.in_(ids))
    return {job_id: name for job_id, name in session.execute(access.visible_jobs(query, user))}


def _host(record, now: int, lease: float, visible: dict[str, str]) -> dict[str, Any]:
    host = describe(record, now, lease)
    del host["heartbeat_age_seconds"]  # ticks every second; the page ages `seen` itself
    held: dict[str, list[str]] = {}
    for member, gpus in record.jobs.items():
        held.setdefault(member.rpartition("|")[0], []).extend(gpus)
    holder = {gpu: job_id for job_id, gpus in held.items() for gpu in gpus}
    host["seen"] = record.seen or None
    host["strip"] = [{"gpu": gpu, "job": _shown(holder.get(gpu), visible)}
                     for gpu in record.gpus]
    host["running_jobs"] = [{"id": _shown(job_id, visible), "name": visible.get(job_id),
                             "gpus": held[job_id]} for job_id in host["running_jobs"]]
    return host


def _shown(job_id: str | None, visible: dict[str, str]) -> str | None:
    """A job id the user may see; another workspace's job is only 'busy'."""
    if job_id is None:
        return None
    return job_id if job_id in visible else "(other workspace)"


def _pool(runtime, session, user, pool: str, hosts: list[dict]) -> dict[str, Any]:
    queued = select(Job).where(Job.pool == pool, Job.status == "queued")
    total = session.scalar(select(func.count()).select_from(queued.subquery())) or 0
    mine = session.scalars(access.visible_jobs(queued, user)
                           .order_by(Job.priority.desc(), Job.created_at, Job.id)).all()
    entries = []
    for job in mine[:QUEUE_SHOWN]:
        where = queue_summary(runtime, session, user, job) or {}
        entries.append({"id": job.id, "name": job.name, "priority": job.priority,
                        "gpus": job.gpu * job.instance_count, "created_at": iso(job.created_at),
                        **where})
    entries.sort(key=lambda e: (e.get("position") is None, e.get("position") or 0))
    pool_hosts = [h for h in hosts if h["pool"] == pool]
    return {"name": pool, "queued": total, "hidden": total - len(mine), "jobs": entries,
            "more": max(0, len(mine) - QUEUE_SHOWN),
            "gpus_total": sum(h["gpus_total"] for h in pool_hosts),
            "gpus_free": sum(h["gpus_free"] for h in pool_hosts if h["state"] == "online"),
            "hosts": len(pool_hosts)}
