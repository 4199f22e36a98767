"""What the dashboard shows, built from the job services (job_queries, queue_position,
deliveries, hosts, access); every value is JSON-ready for the pages' live streams."""
from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, select

from app.domain.status import JobStatus
from app.models import Job, JobLogLine, JobMetric, Workspace
from app.services import access, deliveries, job_queries, queue_position

#: The jobs list shows the newest this many of what the filters select (the total is shown).
LIST_LIMIT = 200
#: The job page keeps this many log lines; older ones are in GET …/logs?lines=.
LOG_TAIL = 300
#: Deliveries listed on the job page: the newest, plus every dead one (those can be resent).
DELIVERIES_SHOWN = 25
METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "f1_score")


def iso(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds") if value else None


def job_rows(session, user, status=None, workspace_id=None) -> dict[str, Any]:
    """The newest LIST_LIMIT jobs the user may see (job_queries.list_jobs), with metrics."""
    page = job_queries.list_jobs(session, user=user, page=1, page_size=LIST_LIMIT,
                                 status=status, workspace_id=workspace_id)
    ids = [job.id for job in page.items]
    names = _workspace_names(session, {job.workspace_id for job in page.items})
    summaries = metric_summaries(session, ids)
    rows = [{**_job_fields(job), "workspace": names.get(job.workspace_id, "?"),
             **summaries.get(job.id, {})} for job in page.items]
    return {"jobs": rows, "total": page.total, "limit": LIST_LIMIT}


def workspaces_of(session, user) -> list[dict[str, Any]]:
    query = select(Workspace.id, Workspace.name).order_by(Workspace.name)
    if not user.is_admin:
        query = query.where(Workspace.id.in_(access.member_workspace_ids(user)))
    return [{"id": wid, "name": name} for wid, name in session.execute(query)]


def metric_summaries(session, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Per job: its latest epoch's metrics and the best of each over all its epochs."""
    if not ids:
        return {}
    order = func.row_number().over(partition_by=JobMetric.job_id,
                                   order_by=(JobMetric.attempt.desc(), JobMetric.epoch.desc()))
    newest = select(JobMetric, order.label("n")).where(JobMetric.job_id.in_(ids)).subquery()
    latest = {row.job_id: row for row in session.execute(select(newest).where(newest.c.n == 1))}
    best = session.execute(select(
        JobMetric.job_id, func.min(JobMetric.loss), func.max(JobMetric.accuracy),
        func.min(JobMetric.val_loss), func.max(JobMetric.val_accuracy))
        .where(JobMetric.job_id.in_(ids)).group_by(JobMetric.job_id))
    out = {job_id: {"latest": {"epoch": row.epoch, "total_epochs": row.total_epochs,
                               **{name: getattr(row, name) for name in METRICS}}}
           for job_id, row in latest.items()}
    for job_id, loss, acc, val_loss, val_acc in best:
        out.setdefault(job_id, {})["best"] = {"loss": loss, "accuracy": acc,
                                              "val_loss": val_loss, "val_accuracy": val_acc}
    return out


def job_state(runtime, session, user, job_id: str) -> dict[str, Any]:
    """The job page's header, timeline, attempts, queue position and the caller's role."""
    job = job_queries.get_job(session, job_id)
    role = access.role_in(session, user, job.workspace_id)
    state = {**_job_fields(job), "workspace": _workspace_names(session, {job.workspace_id})
             .get(job.workspace_id, "?"), "role": role.value if role else None,
             "framework": job.framework, "script_path": job.script_path, "args": job.args,
             "failure_message": job.failure_message, "external_id": job.external_id,
             "stop_requested_at": iso(job.stop_requested_at),
             "transitions": [_transition(t) for t in job.transitions],
             "attempts": [_attempt(a) for a in job.attempts]}
    queued = job.status == JobStatus.QUEUED.value
    state["queue"] = queue_summary(runtime, session, user, job) if queued else None
    return state


def metrics_after(session, job_id: str, after: tuple[int, int]) -> list[dict[str, Any]]:
    """Epochs reported after (attempt, epoch), in order."""
    attempt, epoch = after
    later = (JobMetric.attempt > attempt) | \
        ((JobMetric.attempt == attempt) & (JobMetric.epoch > epoch))
    rows = session.scalars(select(JobMetric).where(JobMetric.job_id == job_id, later)
                           .order_by(JobMetric.attempt, JobMetric.epoch))
    return [{"attempt": m.attempt, "epoch": m.epoch, "total_epochs": m.total_epochs,
             **{name: getattr(m, name) for name in METRICS}} for m in rows]


def logs_after(session, job: Job, after_id: int) -> list[dict[str, Any]]:
    """Output lines stored after row `after_id` (the newest LOG_TAIL on a first read)."""
    if after_id <= 0:
        _, rows = job_queries.job_log_lines(session, job.id, LOG_TAIL)
    else:
        rows = session.scalars(select(JobLogLine).where(
            JobLogLine.job_id == job.id, JobLogLine.id > after_id).order_by(JobLogLine.id)
            .limit(LOG_TAIL))
    gang = job.instance_count > 1
    return [{"id": r.id, "attempt": r.attempt, "rank": r.rank, "stream": r.stream,
             "line": f"[rank {r.rank}] {r.line}" if gang else r.line, "at": iso(r.at)}
            for r in rows]


def delivery_list(session, job_id: str) -> dict[str, Any]:
    rows = deliveries.list_deliveries(session, job_id)
    shown = [r for r in rows[:-DELIVERIES_SHOWN] if r.state == "dead"] + rows[-DELIVERIES_SHOWN:]
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.state] = counts.get(row.state, 0) + 1
    return {"counts": counts, "total": len(rows), "items": [{
        "id": r.id, "kind": r.kind, "state": r.state, "attempts": r.attempts,
        "last_status_code": r.last_status_code, "last_error": r.last_error,
        "summary": _delivery_summary(r.kind, r.payload), "created_at": iso(r.created_at),
        "delivered_at": iso(r.delivered_at)} for r in reversed(shown)]}


def _job_fields(job: Job) -> dict[str, Any]:
    return {"id": job.id, "name": job.name, "status": job.status, "pool": job.pool,
            "gpu": job.gpu, "instance_count": job.instance_count,
            "gpus": job.gpu * job.instance_count, "priority": job.priority,
            "attempt": job.attempt, "workspace_id": job.workspace_id,
            "created_at": iso(job.created_at), "started_at": iso(job.started_at),
            "finished_at": iso(job.finished_at)}


def _workspace_names(session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(Workspace.id, Workspace.name).where(Workspace.id.in_(ids)))
    return {workspace_id: name for workspace_id, name in rows}


def _transition(t) -> dict[str, Any]:
    return {"attempt": t.attempt, "from": t.from_status, "to": t.to_status,
            "message": t.message, "at": iso(t.at)}


def _attempt(a) -> dict[str, Any]:
    return {"number": a.number, "worker": a.worker, "gpus": a.gpus,
            "started_at": iso(a.started_at), "finished_at": iso(a.finished_at),
            "exit_code": a.exit_code, "exit_signal": a.exit_signal,
            "failure_class": a.failure_class, "message": a.message,
            "counts_against_retries": a.counts_against_retries,
            "instances": [{"rank": i["rank"], "worker": i.get("worker"), "gpus": i.get("gpus"),
                           "outcome": i.get("outcome")} for i in a.instance_list]}


def queue_summary(runtime, session, user, job: Job) -> dict[str, Any] | None:
    """queue_position.locate, with the ETA as a moment (stable between plans, so an
    unchanged plan sends nothing); None when Redis does not answer."""
    try:
        where = queue_position.locate(runtime.redis, session, user, job.id)
    except Exception:  # noqa: BLE001 - a 503 of the API; the page says "unknown"
        return None
    eta_at = None if where.eta_seconds is None else \
        datetime.fromtimestamp(round(time.time() + where.eta_seconds), timezone.utc)
    return {"position": where.position, "reason": where.reason, "message": where.message,
            "ahead": list(where.ahead.ids), "ahead_others": where.ahead.others,
            "eta_at": iso(eta_at), "eta_basis": where.eta_basis}


def _delivery_summary(kind: str, payload: dict) -> str:
    if kind == "result":
        return f"epoch {payload.get('epoch')}"
    names = {status.status_type: status.value for status in JobStatus}
    return names.get(payload.get("statusType"), str(payload.get("statusType")))
