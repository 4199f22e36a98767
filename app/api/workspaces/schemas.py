"""Bodies of the workspace administration API."""
from marshmallow import fields, validate

from app.api.base import PaginationSchema, StrictInt, StrictSchema, UtcDateTime
from app.services.access import ROLES
from app.services.workspaces import GPU_QUOTA_ERROR, MAX_GPU_QUOTA

NAME = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$", error=(
    "use 1 to 100 letters, digits, '_', '.' or '-', starting with a letter or digit"))
MAX_GPUS = validate.Range(0, 1024, error="must be 0 to 1024 GPUs")
MAX_QUEUED = validate.Range(1, 1_000_000, error="must be 1 to 1000000 jobs")
GPU_QUOTA = validate.Range(0, MAX_GPU_QUOTA, error=GPU_QUOTA_ERROR)
GPU_QUOTA_DOC = ("GPUs its jobs may hold at once within its share; idle GPUs may be borrowed "
                 "beyond it, and borrowed work is the first to be preempted when a workspace "
                 "under its quota waits; null = no quota")
DEFAULT_MAX_QUEUED_JOBS = 1000


class WorkspaceUpdateSchema(StrictSchema):
    name = fields.String(validate=NAME)
    description = fields.String(allow_none=True, validate=validate.Length(max=2000))
    max_gpus_per_job = StrictInt(allow_none=True, validate=MAX_GPUS, metadata={
        "description": "largest gpu a job may ask for; null: only the pools limit it"})
    max_queued_jobs = StrictInt(allow_none=True, validate=MAX_QUEUED, metadata={
        "description": "jobs that may wait in the queue at once; null: no limit"})
    gpu_quota = StrictInt(allow_none=True, validate=GPU_QUOTA, metadata={
        "description": GPU_QUOTA_DOC})


class WorkspaceCreateSchema(WorkspaceUpdateSchema):
    name = fields.String(required=True, validate=NAME)
    max_queued_jobs = StrictInt(allow_none=True, validate=MAX_QUEUED,
                                load_default=DEFAULT_MAX_QUEUED_JOBS)


class WorkspaceSchema(StrictSchema):
    id = fields.Integer()
    name = fields.String()
    description = fields.String(allow_none=True)
    max_gpus_per_job = fields.Integer(allow_none=True)
    max_queued_jobs = fields.Integer(allow_none=True)
    gpu_quota = fields.Integer(allow_none=True, metadata={"description": GPU_QUOTA_DOC})
    queued_jobs = fields.Integer(metadata={"description": "jobs of the workspace now queued"})
    gpus_in_use = fields.Integer(metadata={
        "description": "GPUs its training jobs hold now (borrowed ones included)"})
    created_at = UtcDateTime()


class WorkspacePageSchema(StrictSchema):
    items = fields.List(fields.Nested(WorkspaceSchema))
    pagination = fields.Nested(PaginationSchema)


class MemberRoleSchema(StrictSchema):
    role = fields.String(required=True, validate=validate.OneOf(
        ROLES, error=f"must be one of: {', '.join(ROLES)}"))


class MemberSchema(StrictSchema):
    user_id = fields.Integer()
    username = fields.String()
    role = fields.String()


class MemberListSchema(StrictSchema):
    members = fields.List(fields.Nested(MemberSchema))
