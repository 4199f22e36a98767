"""Bodies of batch submission: the jobs of a sweep, each exactly as POST /training/jobs takes."""
from __future__ import annotations

from marshmallow import fields, validate

from app.api.base import StrictSchema
from app.api.jobs.schemas import JobCreateSchema
from app.services.batch import MAX_BATCH


class JobBatchSchema(StrictSchema):
    jobs = fields.List(fields.Nested(JobCreateSchema), required=True, validate=validate.Length(
        1, MAX_BATCH, error=f"must hold 1 to {MAX_BATCH} jobs; split a larger sweep"))


class JobBatchResultSchema(StrictSchema):
    batch_id = fields.String(metadata={"description": "GET /api/v1/training/jobs?batch_id= "
                                                      "lists its jobs"})
    count = fields.Integer()
    job_ids = fields.List(fields.String(), metadata={"description": "in the order sent"})
