"""Shared API pieces: the {code, message, data} envelope, strict fields, 400 on bad input."""
from __future__ import annotations

import json
from datetime import timezone
from http import HTTPStatus
from typing import Any

import flask_smorest
from marshmallow import Schema, ValidationError, fields, validate
from webargs.flaskparser import FlaskParser


class StrictParser(FlaskParser):
    """Invalid input is a 400 (DESIGN §3), not webargs' default 422."""

    DEFAULT_VALIDATION_STATUS = 400

    def _raw_load_json(self, req):
        try:
            return super()._raw_load_json(req)
        except RecursionError:
            # json.loads recurses once per nesting level: 100000 '[' must be a 400, not a 500.
            raise json.JSONDecodeError("the JSON is nested too deeply", "", 0) from None


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = StrictParser()


class StrictInt(fields.Integer):
    """An integer in the JSON: "2" is not 2, true is not 1, 2.5 is refused."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError("must be a whole number (a JSON integer, not a string or bool)")
        return super()._deserialize(value, attr, data, **kwargs)


class StrictBool(fields.Boolean):
    """A JSON true or false: "true", 1 and "yes" are refused."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise ValidationError("must be true or false (a JSON boolean)")
        return value


class UtcDateTime(fields.DateTime):
    """A moment as the seed documents write it: UTC with `Z`, to the millisecond
    (`2026-01-26T10:00:00.000Z`); fixed width, so the strings also sort in time order."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        utc = value.astimezone(timezone.utc)
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


class StrictSchema(Schema):
    """Refuses unknown fields and says which ones it accepts."""

    def handle_error(self, error: ValidationError, data: Any, *, many: bool, **kwargs):
        accepted = ", ".join(sorted(self.load_fields))
        messages = error.messages if isinstance(error.messages, dict) else {}
        for name, problems in messages.items():
            if problems == ["Unknown field."]:
                messages[name] = [f"unknown field; accepted fields are: {accepted}"]
        raise error


class PageArgsSchema(StrictSchema):
    """?page=&page_size= of a listing; page_size is capped so one request stays cheap."""

    page = fields.Integer(load_default=1, validate=validate.Range(1, 1_000_000))
    page_size = fields.Integer(load_default=20, validate=validate.Range(1, 100))


def page_data(page) -> dict[str, Any]:
    """A services Page as the API answers it: {items, pagination}."""
    return {"items": page.items, "pagination": {
        "page": page.page, "page_size": page.page_size, "total": page.total,
        "total_pages": page.total_pages}}


class PaginationSchema(Schema):
    page = fields.Integer()
    page_size = fields.Integer()
    total = fields.Integer()
    total_pages = fields.Integer()


class ErrorSchema(Schema):
    code = fields.Integer(metadata={"description": "non-zero: the HTTP status"})
    message = fields.String()
    data = fields.Raw(allow_none=True)
    errors = fields.Dict(metadata={"description": "per-field messages for invalid input"})


_ENVELOPES: dict[str, type[Schema]] = {}


def envelope(data: fields.Field | type[Schema] | None, name: str) -> type[Schema]:
    """A response schema {code, message, data} whose data is `data` (a field or a schema)."""
    if name not in _ENVELOPES:
        if isinstance(data, type) and issubclass(data, Schema):
            data = fields.Nested(data)
        attrs = {"code": fields.Integer(metadata={"description": "0 on success"}),
                 "message": fields.String(), "data": data or fields.Raw(allow_none=True)}
        _ENVELOPES[name] = Schema.from_dict(attrs, name=name)
    return _ENVELOPES[name]


def errors(blp: Blueprint, *codes: int):
    """Document the error responses an operation can answer, in its blueprint's error envelope
    (app/api/envelopes.py), so clients and schema checkers know them; 400 from @arguments is
    documented by flask-smorest (for another envelope, name 400 here too)."""
    schema = getattr(getattr(blp, "error_envelope", None), "schema", None)

    def decorator(func):
        for code in codes:
            if schema is None:
                func = blp.alt_response(code, response=HTTPStatus(code).name)(func)
            else:
                func = blp.alt_response(code, schema=schema,
                                        description=HTTPStatus(code).phrase)(func)
        return func
    return decorator


#: Errors every authenticated operation can answer.
AUTH_ERRORS = (401,)
#: Errors of an operation with a JSON body.
BODY_ERRORS = (400, 413, 415)
#: Errors of an operation on one job: 404 also for a job of a workspace you are not in;
#: 403 when a viewer tries to change it; 409 when its state does not allow the change.
JOB_READ_ERRORS = (*AUTH_ERRORS, 404)
JOB_WRITE_ERRORS = (*AUTH_ERRORS, 403, 404, 409)


def ok(data: Any = None, message: str = "success") -> dict[str, Any]:
    return {"code": 0, "message": message, "data": data}
