"""Bodies of the dataset registry API."""
from marshmallow import fields, validate

from app.api.base import PaginationSchema, StrictSchema, UtcDateTime
from app.services.datasets import DEFAULT_VERSION, MAX_NAME, MAX_PATH, MAX_VERSION

PATH_DOC = ("the dataset's directory relative to TRAINQ_DATASET_ROOT, e.g. mnist/1; it must "
            "exist on the API host, and every worker host must have it under its own root")


class DatasetCreateSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(max=MAX_NAME))
    version = fields.String(validate=validate.Length(max=MAX_VERSION), metadata={
        "description": f"default {DEFAULT_VERSION!r}; a name and version are registered once"})
    path = fields.String(required=True, validate=validate.Length(max=MAX_PATH),
                         metadata={"description": PATH_DOC})
    description = fields.String(allow_none=True, validate=validate.Length(max=2000))


class DatasetSchema(StrictSchema):
    id = fields.Integer(metadata={"description": "what jobs name: dataset_id"})
    name = fields.String()
    version = fields.String()
    path = fields.String(metadata={"description": PATH_DOC})
    description = fields.String(allow_none=True)
    created_by = fields.Integer(allow_none=True, metadata={"description": "the admin's user id"})
    created_at = UtcDateTime()


class DatasetPageSchema(StrictSchema):
    items = fields.List(fields.Nested(DatasetSchema))
    pagination = fields.Nested(PaginationSchema)
