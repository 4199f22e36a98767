"""Seed 003: a training's run history. App group = workspace (name or id), function = job name,
instance = a job id, or `-` for every job of that name. A thin mapping of services.runs."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from flask import current_app, g

from app.api.base import AUTH_ERRORS, Blueprint, errors
from app.api.envelopes import OpenSearchEnvelope, request_meta, use_envelope
from app.api.run_history import schemas as s
from app.api.security import BEARER, require_user
from app.domain.status import RUN_HISTORY_WORDS, parse_status
from app.errors import NotFound
from app.models import Job
from app.services import access, runs
from app.services.workspaces import get_workspace

#: `instanceName` that means every job of the function (the history across resubmissions).
EVERY_INSTANCE = "-"

blp = Blueprint("run_history", __name__, url_prefix="/v4/openapi",
                description="Seed 003's training history: every attempt of a job is a run")
use_envelope(blp, OpenSearchEnvelope())
blp.before_request(require_user)


@blp.route("/app-groups/<app_group>/functions/<function_name>/instances/<instance_name>/tasks",
           methods=["GET"])
@blp.arguments(s.TaskArgsSchema, location="query")
@blp.response(200, s.TaskPageSchema)
@blp.doc(security=BEARER)
@errors(blp, 400, *AUTH_ERRORS, 404)
def list_tasks(args, app_group, function_name, instance_name):
    """Runs of `function_name` in the workspace `app_group`, newest start first."""
    with current_app.extensions["trainq"].db.read() as session:
        workspace_id = _visible_workspace(session, app_group)
        if instance_name != EVERY_INSTANCE:
            _check_instance(session, workspace_id, function_name, instance_name)
        where = runs.RunFilter(
            job_id=None if instance_name == EVERY_INSTANCE else instance_name,
            job_name=function_name, workspace_id=workspace_id,
            status=parse_status(args["status"]) if "status" in args else None,
            started_after=_moment(args.get("start_time")),
            ended_before=_moment(args.get("end_time")))
        page = runs.list_runs(session, g.user, where, args["page_number"], args["page_size"])
    return {"status": "OK", "httpCode": 200, "code": "", "message": "",
            "totalCount": page.total, "result": [_task(run) for run in page.items],
            **request_meta()}


def _visible_workspace(session, ref: str) -> int:
    """The workspace's id; 404 alike for one that does not exist and one the caller is not in."""
    try:
        workspace = get_workspace(session, ref)
    except NotFound:
        workspace = None
    if workspace is None or access.role_in(session, g.user, workspace.id) is None:
        raise NotFound(f"no app group {ref!r}: give the name or id of a workspace you belong to "
                       "(GET /api/v1/me lists them)")
    return workspace.id


def _check_instance(session, workspace_id: int, function_name: str, job_id: str) -> None:
    job = session.get(Job, job_id)
    if job is None or job.workspace_id != workspace_id or job.name != function_name:
        raise NotFound(f"no instance {job_id!r} of function {function_name!r} in this app group; "
                       f"give a job id of that name, or {EVERY_INSTANCE!r} for all of them")


def _task(run: runs.Run) -> dict:
    errors_ = [{"failure_class": run.failure_class, "message": run.message}] \
        if run.failure_class else []
    return {"functionName": run.job_name, "runId": run.run_id, "generation": str(run.attempt),
            "status": RUN_HISTORY_WORDS[run.status], "progress": run.progress,
            "startTime": _ms(run.started_at), "endTime": _ms(run.finished_at),
            "extendInfo": json.dumps({**run.metrics, "errors": errors_}, sort_keys=True)}


def _ms(moment: datetime | None) -> int:
    return round(moment.timestamp() * 1000) if moment else 0


def _moment(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, timezone.utc)
