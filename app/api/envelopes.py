"""Error envelopes: each API family answers errors in the shape its own document gives them.

A blueprint names its family with `error_envelope` (see `use_envelope`); the one error handler
(app/api/errors.py) asks `envelope_for_request` which shape to use, so a route never builds an
error body itself. A request that matched no route goes by the URL prefix of the families."""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Protocol

from flask import current_app, g, request
from marshmallow import Schema, fields


@dataclass(frozen=True)
class ApiError:
    """What went wrong, before a family puts it into its shape."""

    status: int
    message: str
    errors: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


class ErrorEnvelope(Protocol):
    def body(self, error: ApiError) -> Any:
        """The JSON body of the error response."""


class NativeEnvelope:
    """`/api/v1` and `/auth` (seed 001): {code, message, data: null, errors?}."""

    def body(self, error: ApiError) -> Any:
        body = {"code": error.status, "message": error.message, "data": None}
        if error.errors:
            body["errors"] = error.errors
        return body


#: How a native message points at its `errors` member.
NATIVE_POINTER = "; see 'errors'"


class PlainStringEnvelope:
    """Seed 004's open API: the error is a JSON string that says what to fix."""

    #: How the OpenAPI document describes these errors.
    schema = {"type": "string", "description": "what went wrong and what to do"}

    def body(self, error: ApiError) -> Any:
        if not error.errors:
            return error.message
        problems = "; ".join(f"{name}: {_text(problems)}" for name, problems in
                             sorted(error.errors.items()))
        # A string has no 'errors' member to point at: the problems follow the summary.
        return f"{error.message.split(NATIVE_POINTER)[0]}: {problems}"


class OpenSearchErrorSchema(Schema):
    status = fields.String(metadata={"description": "FAIL"})
    requestId = fields.String()
    httpCode = fields.Integer()
    code = fields.String(metadata={"description": "the HTTP status's name, e.g. NotFound"})
    message = fields.String(metadata={"description": "what went wrong and what to do"})
    latency = fields.Integer()
    totalCount = fields.Integer()
    result = fields.List(fields.Raw())
    errors = fields.Dict(metadata={"description": "per-parameter messages for invalid input"})


class OpenSearchEnvelope:
    """Seed 003's run history: {status, requestId, httpCode, code, message, latency, …}."""

    #: How the OpenAPI document describes these errors.
    schema = OpenSearchErrorSchema

    def body(self, error: ApiError) -> Any:
        code = HTTPStatus(error.status).phrase.title().replace(" ", "").replace("-", "")
        body = {"status": "FAIL", "httpCode": error.status, "code": code,
                "message": error.message, "totalCount": 0, "result": [], **request_meta()}
        if error.errors:
            body["errors"] = error.errors
        return body


NATIVE = NativeEnvelope()


def use_envelope(blueprint, envelope: ErrorEnvelope) -> None:
    """Make `blueprint`'s errors (and those of unknown URLs under its prefix) use `envelope`;
    its requests also get an id and a start time, for envelopes that report them."""
    blueprint.error_envelope = envelope
    blueprint.before_request(_start_request)


def envelope_for_request() -> ErrorEnvelope:
    blueprint = current_app.blueprints.get(request.blueprint or "")
    if blueprint is not None:
        return getattr(blueprint, "error_envelope", NATIVE)
    for candidate in current_app.blueprints.values():  # no route matched: go by the prefix
        prefix = (candidate.url_prefix or "").rstrip("/")
        if prefix and hasattr(candidate, "error_envelope") and \
                (request.path == prefix or request.path.startswith(prefix + "/")):
            return candidate.error_envelope
    return NATIVE


def request_meta() -> dict[str, Any]:
    """requestId and latency (milliseconds since the request began) of the current request."""
    started = g.get("request_started", time.perf_counter())
    return {"requestId": g.get("request_id") or uuid.uuid4().hex,
            "latency": round((time.perf_counter() - started) * 1000)}


def _start_request() -> None:
    g.request_started, g.request_id = time.perf_counter(), uuid.uuid4().hex


def _text(problems: Any) -> str:
    if isinstance(problems, list):
        return ", ".join(_text(p) for p in problems)
    if isinstance(problems, dict):
        return ", ".join(f"{k}: {_text(v)}" for k, v in problems.items())
    return str(problems)
