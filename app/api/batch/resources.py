"""POST /api/v1/training/jobs/batch: a sweep in one request."""
from __future__ import annotations

from flask import Response, current_app, g, request

from app.api.base import AUTH_ERRORS, BODY_ERRORS, Blueprint, envelope, errors, ok
from app.api.batch import schemas as s
from app.api.security import BEARER, require_user
from app.services import batch

blp = Blueprint("training_job_batches", __name__, url_prefix="/api/v1/training/jobs",
                description="Submit many training jobs at once")


@blp.before_request
def _own_allow_header():
    """`/jobs/batch` also matches `/jobs/<job_id>` (GET, DELETE): Flask's automatic OPTIONS would
    advertise that route's methods too, which batch does not have."""
    if request.method == "OPTIONS":
        return Response(status=200, headers={"Allow": "POST, OPTIONS"})
    return require_user()


@blp.route("/batch", methods=["POST"])
@blp.arguments(s.JobBatchSchema)
@blp.response(201, envelope(s.JobBatchResultSchema, "JobBatchEnvelope"))
@blp.doc(security=BEARER)
@errors(blp, *BODY_ERRORS, *AUTH_ERRORS, 403, 409, 429, 503)
def create_batch(body):
    """Submit up to 1,000 jobs (each as `POST /api/v1/training/jobs` takes it) in one
    transaction: all are queued, or none is (400 lists every problem as `jobs[i].field`; 429
    when the batch would overfill a workspace's queue). They share a `batch_id`.

    With an `Idempotency-Key` header, the same key and body return the jobs created the first
    time (header `Idempotent-Replayed: true`); the same key with another body is a 409."""
    runtime = current_app.extensions["trainq"]
    created, replayed = batch.submit_batch(runtime, body["jobs"], g.user.id,
                                           request.headers.get("Idempotency-Key"))
    data = {"batch_id": created[0].batch_id, "count": len(created),
            "job_ids": [job.id for job in created]}
    if replayed:
        return ok(data, "these jobs were already created for this Idempotency-Key"), 201, \
            {"Idempotent-Replayed": "true"}
    return ok(data, f"{len(created)} training jobs created")
