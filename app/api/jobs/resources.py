"""Routes of the training-job API; each is a few lines over the job services."""
from __future__ import annotations

from dataclasses import asdict

from flask import current_app, g, request

from app.api.base import (AUTH_ERRORS, BODY_ERRORS, JOB_READ_ERRORS, JOB_WRITE_ERRORS, Blueprint,
                          envelope, errors, ok, page_data)
from app.api.jobs import schemas as s
from app.api.security import BEARER, authorize_job, require_user
from app.domain.status import parse_status
from app.services import job_queries, job_view, jobs, queue_position, steps

blp = Blueprint("training_jobs", __name__, url_prefix="/api/v1/training/jobs",
                description="Submit, list, inspect and stop training jobs")
# Every route with a job_id first asks security.authorize_job: 404 for a job of a workspace the
# caller does not belong to, 403 when a viewer tries to change one.
blp.before_request(require_user)


def _runtime():
    return current_app.extensions["trainq"]


@blp.route("", methods=["POST"])
@blp.arguments(s.JobCreateSchema)
@blp.response(201, envelope(s.JobDetailSchema, "JobCreatedEnvelope"))
@blp.doc(security=BEARER)
@errors(blp, *BODY_ERRORS, *AUTH_ERRORS, 403, 409, 429, 503)
def create_job(body):
    """Submit a training job; it is queued on its pool's queue for its priority.

    It goes to `workspace_id`, which the caller must manage (403 for a viewer); without it, to
    the one workspace the caller manages (400 when there are several). Over the workspace's
    max_gpus_per_job: 400; over its max_queued_jobs: 429.

    With an `Idempotency-Key` header, the same key and body return the job created the first
    time (header `Idempotent-Replayed: true`); the same key with another body is a 409."""
    key = request.headers.get("Idempotency-Key")
    job, replayed = jobs.submit_job(_runtime(), body, g.user.id, key)
    if replayed:
        return ok(_detail(job.id), "training job already created for this Idempotency-Key"), \
            201, {"Idempotent-Replayed": "true"}
    return ok(_detail(job.id), "training job created")


@blp.route("", methods=["GET"])
@blp.arguments(s.JobListArgsSchema, location="query")
@blp.response(200, envelope(s.JobPageSchema, "JobPageEnvelope"))
@blp.doc(security=BEARER)
@errors(blp, *AUTH_ERRORS)
def list_jobs(args):
    """List the jobs of the caller's workspaces (an admin: all), newest first, filtered by status,
    workspace and batch (a sweep from POST /batch); a workspace the caller does not belong to
    lists nothing.

    Numbered pages (`page`) carry the total; `next_cursor` leads to the next page by keyset
    (`cursor`), which costs the same at any depth and answers no total."""
    status = parse_status(args["status"]) if "status" in args else None
    with _runtime().db.read() as session:
        page = job_queries.list_jobs(session, user=g.user, page=args["page"],
                                     page_size=args["page_size"], cursor=args.get("cursor"),
                                     status=status, workspace_id=args.get("workspace_id"),
                                     batch_id=args.get("batch_id"))
    pagination = page_data(page)["pagination"] if page.total is not None else {
        "page_size": page.page_size}
    return ok({"items": page.items, "pagination": pagination, "next_cursor": page.next_cursor})


@blp.route("/<job_id>", methods=["GET"])
@blp.response(200, envelope(s.JobDetailSchema, "JobDetailEnvelope"))
@blp.doc(security=BEARER)
@errors(blp, *JOB_READ_ERRORS)
def get_job(job_id):
    """Full detail: attempt, pool, queue, timeline, attempts and latest metrics."""
    authorize_job(job_id)
    return ok(_detail(job_id))


@blp.route("/<job_id>/stop", methods=["POST"])
@blp.response(200, envelope(s.StopResultSchema, "StopEnvelope"))
@blp.doc(security=BEARER)
@errors(blp, *JOB_WRITE_ERRORS, 503)
def stop_job(job_id):
    """Queued: cancelled at once. Training: its process group is stopped, then cancelled."""
    authorize_job(job_id)
    job, message = jobs.stop_job(_runtime(), job_id)
    return ok({"id": job.id, "status": job.status}, message)


@blp.route("/<job_id>", methods=["DELETE"])
@blp.response(204)
@blp.doc(security=BEARER)
@errors(blp, *JOB_WRITE_ERRORS)
def delete_job(job_id):
    """Delete a finished job with its logs and metrics; a live job must be stopped first."""
    authorize_job(job_id)
    jobs.delete_job(_runtime(), job_id)
    return "", 204


@blp.route("/<job_id>/logs", methods=["GET"])
@blp.arguments(s.LogArgsSchema, location="query")
@blp.response(200, envelope(s.LogsSchema, "LogsEnvelope"))
@blp.doc(security=BEARER)
@errors(blp, *JOB_READ_ERRORS)
def get_logs(args, job_id):
    """The last `lines` lines the job printed (stdout and stderr), oldest first."""
    authorize_job(job_id)
    with _runtime().db.read() as session:
        job, rows = job_queries.job_log_lines(session, job_id, args["lines"])
        gang = job.instance_count > 1
    entries = [{"attempt": r.attempt, "rank": r.rank, "seq": r.seq, "stream": r.stream,
                "line": r.line, "at": r.at} for r in rows]
    # A multi-host job's lines say which instance printed them, as torchrun's --tee does.
    return ok({"logs": [f"[rank {r.rank}] {r.line}" if gang else r.line for r in rows],
               "entries": entries})


@blp.route("/<job_id>/metrics", methods=["GET"])
@blp.arguments(s.MetricsArgsSchema, location="query")
@blp.response(200, envelope(s.MetricsSchema, "MetricsEnvelope"))
@blp.doc(security=BEARER)
@errors(blp, *JOB_READ_ERRORS)
def get_metrics(args, job_id):
    """Per-epoch metrics in order (attempt, then epoch), and the per-step curve (report_step):
    every step when there are at most `points`, else `points` of them spread over the steps
    (`steps_total` says how many there are)."""
    authorize_job(job_id)
    with _runtime().db.read() as session:
        metrics = job_queries.job_metrics(session, job_id)
        curve = steps.curve(session, job_id, args["points"])
    return ok({"metrics": metrics, "steps": curve.points, "steps_total": curve.total})


@blp.route("/<job_id>/queue", methods=["GET"])
@blp.response(200, envelope(s.QueuePositionSchema, "QueuePositionEnvelope"))
@blp.doc(security=BEARER)
@errors(blp, *JOB_READ_ERRORS, 503)
def get_queue_position(job_id):
    """Where the job stands in its pool's queue: its position, the jobs ahead of it (ids only
    in the caller's workspaces), why it waits, and when it is expected to start.

    Waiting jobs are answered from the scheduler's latest plan; a job the plan does not cover
    says why (starting, retry_backoff, not_queued, not_planned). 503 when Redis is down."""
    authorize_job(job_id)
    runtime = _runtime()
    with runtime.db.read() as session:
        position = queue_position.locate(runtime.redis, session, g.user, job_id)
    return ok(position)


def _detail(job_id: str) -> dict:
    """The job's read model (services.job_view) in seed 001's detail shape."""
    with _runtime().db.read() as session:
        view = job_view.load(session, job_id)
    return {**view.columns(), "transitions": view.transitions, "attempts": view.attempts,
            "latest_metrics": view.latest_metric, "timeline": asdict(view.timeline),
            "model_id": view.model_id}
