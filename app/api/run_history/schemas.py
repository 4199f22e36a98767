"""Seed 003's query and response shapes (camelCase, times in milliseconds)."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates

from app.api.base import StrictSchema
from app.domain.status import RUN_HISTORY_WORDS, parse_status

#: The newest millisecond timestamp accepted (year 9999): past it a datetime cannot hold it.
MAX_MS = 253_402_300_799_999


class TaskArgsSchema(StrictSchema):
    status = fields.String(metadata={"enum": list(RUN_HISTORY_WORDS.values()),
                                     "description": "only runs with this status"})
    start_time = fields.Integer(data_key="startTime", validate=validate.Range(0, MAX_MS),
                                metadata={"description": "runs that started after this (ms)"})
    end_time = fields.Integer(data_key="endTime", validate=validate.Range(0, MAX_MS),
                              metadata={"description": "runs that ended before this (ms)"})
    page_number = fields.Integer(data_key="pageNumber", load_default=1,
                                 validate=validate.Range(1, 1_000_000))
    page_size = fields.Integer(data_key="pageSize", load_default=1,
                               validate=validate.Range(1, 100, error="must be 1 to 100"))

    @validates("status")
    def _check_status(self, value: str, **_kwargs) -> None:
        try:
            parse_status(value)
        except ValueError:
            raise ValidationError("must be one of: " + ", ".join(RUN_HISTORY_WORDS.values()))


class TaskSchema(Schema):
    functionName = fields.String()
    runId = fields.String()
    generation = fields.String(metadata={"description": "the attempt number"})
    status = fields.String(metadata={"enum": list(RUN_HISTORY_WORDS.values())})
    progress = fields.Integer(metadata={"description": "0–100"})
    startTime = fields.Integer(metadata={"description": "ms since the epoch; 0 until it starts"})
    endTime = fields.Integer(metadata={"description": "ms since the epoch; 0 until it ends"})
    extendInfo = fields.String(metadata={
        "description": "JSON: the run's last metrics and `errors` [{failure_class, message}]"})


class TaskPageSchema(Schema):
    status = fields.String()
    requestId = fields.String()
    httpCode = fields.Integer()
    code = fields.String()
    message = fields.String()
    latency = fields.Integer(metadata={"description": "milliseconds the request took"})
    totalCount = fields.Integer()
    result = fields.List(fields.Nested(TaskSchema))
