"""Bodies of seed 002's model API, with its field names."""
from marshmallow import ValidationError, fields, validate, validates_schema

from app.api.base import PaginationSchema, StrictInt, StrictSchema, UtcDateTime
from app.api.jobs.schemas import MAX_ID
from app.services.base_models import TYPES
from app.services.model_view import ModelStatus

LANGUAGES = ("en", "de", "ar")
#: Most datasets one list may name.
MAX_DATASETS = 100
NOT_BLANK = validate.Regexp(r"\s*\S", error="must not be blank")


def _ids(description: str) -> fields.List:
    return fields.List(StrictInt(validate=validate.Range(1, MAX_ID)),
                       validate=validate.Length(max=MAX_DATASETS),
                       metadata={"description": f"{description}: ids of registered datasets "
                                 "(GET /api/v1/admin/datasets)"})


class ModelCreateSchema(StrictSchema):
    name = fields.String(required=True, validate=[validate.Length(1, 200), NOT_BLANK], metadata={
        "description": "internal name, unique in the project"})
    display_name = fields.String(allow_none=True, validate=validate.Length(max=200))
    language = fields.String(allow_none=True, validate=validate.OneOf(
        LANGUAGES, error=f"must be one of: {', '.join(LANGUAGES)}"))
    base_id = StrictInt(required=True, validate=validate.Range(1, MAX_ID), metadata={
        "description": "the base model to train (GET /api/v1/admin/base-models)"})
    annotation_ids = _ids("train and test set alike; when given, the two lists below are "
                          "ignored")
    trainset_annotation_ids = _ids("the train set")
    testset_annotation_ids = _ids("the test set")
    short_description = fields.String(allow_none=True, validate=validate.Length(max=500))
    long_description = fields.String(allow_none=True, validate=validate.Length(max=10000))

    @validates_schema
    def _has_training_data(self, data, **kwargs):
        if not data.get("annotation_ids") and not data.get("trainset_annotation_ids"):
            raise ValidationError("name the training data: annotation_ids (train and test "
                                  "set) or trainset_annotation_ids", "annotation_ids")


class ModelSchema(StrictSchema):
    id = fields.Integer()
    uuid = fields.String(metadata={"description": "the model's unique identifier, a UUID"})
    name = fields.String()
    display_name = fields.String(allow_none=True)
    language = fields.String(allow_none=True)
    short_description = fields.String(allow_none=True)
    long_description = fields.String(allow_none=True)
    project_id = fields.Integer(metadata={"description": "the workspace it belongs to"})
    base = fields.String(metadata={"description": "the base model's name"})
    type = fields.String(metadata={"description": f"the base model's: {', '.join(TYPES)}"})
    owner = fields.String(allow_none=True, metadata={"description": "who created it"})
    created = UtcDateTime()
    status = fields.String(metadata={"enum": [s.value for s in ModelStatus], "description": (
        "follows its job: QUEUED, TRAINING, FAILED, READY; then ACTIVE and PUBLISHED by "
        "the activate and publish actions")})
    progress = fields.Float(metadata={"description": "0-100: last epoch of total_epochs"})
    score = fields.Float(allow_none=True, metadata={
        "description": "the base model's metric at the best epoch; null before any"})
    job_id = fields.String(allow_none=True, metadata={
        "description": "the job that trains it; its output directory is the model's artifact"})


class ModelPageSchema(StrictSchema):
    items = fields.List(fields.Nested(ModelSchema))
    pagination = fields.Nested(PaginationSchema)
