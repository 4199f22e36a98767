"""Query and response bodies of the runs API."""
from __future__ import annotations

from marshmallow import fields, validate

from app.api.base import PageArgsSchema, PaginationSchema, StrictSchema, UtcDateTime
from app.api.jobs.schemas import MAX_ID, StatusFilterSchema
from app.domain.status import JobStatus


class RunListArgsSchema(PageArgsSchema, StatusFilterSchema):
    workspace_id = fields.Integer(validate=validate.Range(1, MAX_ID))
    name = fields.String(validate=validate.Length(1, 200), metadata={
        "description": "the job name: a training's runs across every job submitted under it"})
    started_after = fields.AwareDateTime(metadata={
        "description": "runs that started after this moment (ISO 8601 with a time zone)"})
    ended_before = fields.AwareDateTime(metadata={
        "description": "runs that ended before this moment (ISO 8601 with a time zone)"})


class RunSchema(StrictSchema):
    run_id = fields.String(metadata={"description": "`{job_id}.{attempt}`"})
    job_id = fields.String()
    job_name = fields.String()
    workspace_id = fields.Integer()
    attempt = fields.Integer(metadata={"description": "1 for the first run of the job"})
    status = fields.String(metadata={"enum": [s.value for s in JobStatus], "description": (
        "the job's status for its current attempt; an earlier attempt is failed, or cancelled "
        "when it was stopped or preempted")})
    progress = fields.Integer(metadata={"description": "0–100 from the last epoch reported"})
    started_at = UtcDateTime(allow_none=True)
    finished_at = UtcDateTime(allow_none=True)
    failure_class = fields.String(allow_none=True)
    message = fields.String(allow_none=True)
    metrics = fields.Dict(metadata={"description": "the last epoch's metrics of this run"})


class RunPageSchema(StrictSchema):
    items = fields.List(fields.Nested(RunSchema))
    pagination = fields.Nested(PaginationSchema)

