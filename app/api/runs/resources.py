"""Runs of the caller's jobs (services.runs), newest start first."""
from __future__ import annotations

from dataclasses import asdict

from flask import current_app, g

from app.api.base import AUTH_ERRORS, JOB_READ_ERRORS, Blueprint, envelope, errors, ok, page_data
from app.api.runs import schemas as s
from app.api.security import BEARER, authorize_job, require_user
from app.domain.status import parse_status
from app.services import runs

blp = Blueprint("training_runs", __name__, url_prefix="/api/v1/training",
                description="Runs: every attempt of a job, with its status, progress and metrics")
blp.before_request(require_user)


@blp.route("/runs", methods=["GET"])
@blp.arguments(s.RunListArgsSchema, location="query")
@blp.response(200, envelope(s.RunPageSchema, "RunPageEnvelope"))
@blp.doc(security=BEARER)
@errors(blp, *AUTH_ERRORS)
def list_runs(args):
    """Runs of the caller's workspaces' jobs; `name` gives a training's history across every
    job submitted under that name. Runs not started yet come first."""
    return ok(_page(_filter(args, workspace_id=args.get("workspace_id")), args))


@blp.route("/jobs/<job_id>/runs", methods=["GET"])
@blp.arguments(s.RunListArgsSchema, location="query")
@blp.response(200, envelope(s.RunPageSchema, "JobRunPageEnvelope"))
@blp.doc(security=BEARER)
@errors(blp, *JOB_READ_ERRORS)
def list_job_runs(args, job_id):
    """The runs of one job (its attempts), newest first; the same filters."""
    authorize_job(job_id)  # 404 for an unknown or foreign job, not an empty page
    return ok(_page(_filter(args, job_id=job_id), args))


def _filter(args, **scope) -> runs.RunFilter:
    """The query's filters, within `scope` (a workspace, or one job)."""
    return runs.RunFilter(job_name=args.get("name"),
                          status=parse_status(args["status"]) if "status" in args else None,
                          started_after=args.get("started_after"),
                          ended_before=args.get("ended_before"), **scope)


def _page(where: runs.RunFilter, args) -> dict:
    with current_app.extensions["trainq"].db.read() as session:
        page = runs.list_runs(session, g.user, where, args["page"], args["page_size"])
    page.items = [_run(run) for run in page.items]
    return page_data(page)


def _run(run: runs.Run) -> dict:
    return {**asdict(run), "status": run.status.value, "run_id": run.run_id,
            "progress": run.progress, "metrics": run.metrics}
