"""The one error handler: every error leaves in its API family's envelope (app/api/envelopes.py):
{code, message, data: null, errors?} for /api/v1, a plain string for seed 004, and so on."""
from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from app.api.envelopes import ApiError, envelope_for_request
from app.errors import DomainError

log = logging.getLogger(__name__)

#: What to tell a person for the HTTP errors Flask and webargs raise themselves.
HTTP_MESSAGES = {
    400: "the request is invalid; see 'errors' for what to change",
    404: "no such endpoint; the API lives under /api/v1 (GET /openapi.json lists it)",
    405: "this endpoint does not accept that method; GET /openapi.json lists what it accepts",
    413: "the request body is too large; send at most 1 MiB",
    415: "send the body as JSON with 'Content-Type: application/json'",
}


def error_response(status: int, message: str, errors=None, headers=None):
    error = ApiError(status, message, errors, headers or {})
    response = jsonify(envelope_for_request().body(error))
    response.status_code = status
    response.headers.update(error.headers)
    return response


def handle_domain_error(error: DomainError):
    return error_response(error.status, error.message, error.errors, error.headers)


def handle_http_exception(error: HTTPException):
    data = getattr(error, "data", None) or {}
    errors = _flatten(data.get("messages")) if "messages" in data else None
    message = data.get("message") or HTTP_MESSAGES.get(error.code) or error.description
    return error_response(error.code or 500, message, errors,
                          {**_protocol_headers(error), **(data.get("headers") or {})})


def handle_unexpected(error: Exception):
    log.exception("unhandled error")
    return error_response(500, "internal error; the server log has the details")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)


def _protocol_headers(error: HTTPException) -> dict[str, str]:
    """The headers werkzeug owes with the error (Allow on a 405, which RFC 9110 requires;
    Retry-After on a 429 or 503), without its text/html Content-Type: the body is our JSON."""
    return {name: value for name, value in error.get_headers()
            if name.lower() != "content-type"}


def _flatten(messages):
    """webargs groups messages by location ({"json": {...}}); callers only care about fields."""
    if not isinstance(messages, dict):
        return {"_request": messages}
    flat = {}
    for location, problems in messages.items():
        if isinstance(problems, dict):
            flat.update(problems)
        else:
            flat["_" + location] = problems
    return flat
