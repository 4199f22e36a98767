"""Bodies of the base model API."""
from copy import deepcopy

from marshmallow import fields, validate

from app.api.base import PaginationSchema, StrictBool, StrictSchema, UtcDateTime
from app.api.jobs.schemas import JobCreateSchema
from app.services.base_models import TYPES

#: A base model runs as a job: these fields are declared, and checked, exactly as a job's.
JOB_FIELDS = ("name", "framework", "script_path", "args", "cpu", "memory", "gpu", "pool")
METRIC = validate.Regexp(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$", error=(
    "name a metric the script reports in its ##trainq lines, e.g. f1_score or val_loss"))
WEIGHTS_DOC = ("pretrained weights the script starts from, a path on the worker hosts; the "
               "script gets it as TRAINQ_BASE_DIR")

_JobFields = StrictSchema.from_dict(
    {name: deepcopy(JobCreateSchema._declared_fields[name]) for name in JOB_FIELDS},
    name="BaseModelJobFields")


class BaseModelCreateSchema(_JobFields):
    type = fields.String(required=True, validate=validate.OneOf(
        TYPES, error=f"must be one of: {', '.join(TYPES)}"))
    metric = fields.String(required=True, validate=METRIC, metadata={
        "description": "the epoch metric that is a trained model's score"})
    higher_is_better = StrictBool(load_default=True, metadata={
        "description": "true (default): the best epoch has the highest metric; false: lowest"})
    weights_path = fields.String(allow_none=True, validate=validate.Length(1, 1024),
                                 metadata={"description": WEIGHTS_DOC})


class BaseModelSchema(StrictSchema):
    id = fields.Integer(metadata={"description": "what seed 002's base_id names"})
    name = fields.String()
    type = fields.String()
    framework = fields.String()
    script_path = fields.String()
    args = fields.List(fields.String())
    cpu = fields.Integer()
    memory = fields.Integer()
    gpu = fields.Integer()
    pool = fields.String(allow_none=True)
    metric = fields.String()
    higher_is_better = fields.Boolean()
    weights_path = fields.String(allow_none=True, metadata={"description": WEIGHTS_DOC})
    created_at = UtcDateTime()


class BaseModelPageSchema(StrictSchema):
    items = fields.List(fields.Nested(BaseModelSchema))
    pagination = fields.Nested(PaginationSchema)
