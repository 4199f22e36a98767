"""Seed 004's distributed-training open API: create, detail and stop, each a thin mapping over
the native job services. Bodies and answers as its document gives them (no envelope); errors
are a JSON string that says what to fix (400), or 401/403/404/503 with the same kind of string."""
from __future__ import annotations

from flask import current_app, g

from app.api.base import AUTH_ERRORS, Blueprint, errors
from app.api.envelopes import PlainStringEnvelope, use_envelope
from app.api.security import BEARER, authorize_job, require_user
from app.api.train_job import schemas as s
from app.api.train_job.requests import dataset_ids, seed_fields, to_native
from app.api.train_job.responses import is_waiting, job_body
from app.errors import Conflict, InvalidInput, ServiceUnavailable
from app.services import access, datasets, job_view, jobs, queue_position

blp = Blueprint("train_job", __name__, url_prefix="/openapi/v1/train_job",
                description="Seed 004's distributed-training open API (create, detail, stop)")
use_envelope(blp, PlainStringEnvelope())
blp.before_request(require_user)


def _runtime():
    return current_app.extensions["trainq"]


@blp.route("/create", methods=["POST"])
@blp.arguments(s.JobOpenapiSchema)
@blp.response(200, s.OpenapiJobSchema)
@blp.doc(security=BEARER)
@errors(blp, 400, *AUTH_ERRORS, 403, 413, 415, 429, 503)
def create(body):
    """Create a job from seed 004's JobOpenapi: `command` (python/torchrun and a script under the
    script root), `framework_config[0].spec_id` (TRAINQ_SPECS) and `name` are required."""
    data = to_native(_runtime().settings, body)
    with _runtime().db.read() as session:
        data["datasets"] = datasets.resolve(session, dataset_ids(body), field="dataset_info")
    try:
        job, _ = jobs.submit_job(_runtime(), data, g.user.id)
    except InvalidInput as exc:  # the service names native fields: say which one was sent
        raise seed_fields(exc) from None
    return _job(job.id)


@blp.route("/detail", methods=["POST"])
@blp.arguments(s.OpenapiJobIdSchema)
@blp.response(200, s.OpenapiJobSchema)
@blp.doc(security=BEARER)
@errors(blp, 400, *AUTH_ERRORS, 404, 415)
def detail(body):
    """The job as seed 004's Job, whichever API created it."""
    authorize_job(body["job_id"], access.Role.VIEWER)
    return _job(body["job_id"])


@blp.route("/stop", methods=["POST"])
@blp.arguments(s.OpenapiJobIdSchema)
@blp.response(200, s.OpenapiEmptySchema)
@blp.doc(security=BEARER)
@errors(blp, 400, *AUTH_ERRORS, 403, 404, 415, 503)
def stop(body):
    """Stop the job: a queued one is cancelled at once, a training one once its processes have
    exited. A job that already ended is a 400."""
    authorize_job(body["job_id"], access.Role.MANAGER)
    try:
        jobs.stop_job(_runtime(), body["job_id"])
    except Conflict as exc:  # the document answers every refusal with 400
        raise InvalidInput(exc.message) from None
    return {}


def _job(job_id: str) -> dict:
    runtime = _runtime()
    with runtime.db.read() as session:
        view = job_view.load(session, job_id)
        return job_body(view, session, runtime.settings, _sub_msg(session, view))


def _sub_msg(session, view) -> str | None:
    """Why a queued job waits (the scheduler's reason); nothing once it runs."""
    if not is_waiting(view):
        return None
    try:
        return queue_position.locate(_runtime().redis, session, g.user, view.job.id).message
    except ServiceUnavailable:
        return "waiting; the queue (Redis) is not answering, so why is unknown"
