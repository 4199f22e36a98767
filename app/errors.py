"""Domain errors carry their HTTP status; one handler turns any of them into the envelope."""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 500
    default_message = "internal error; the server log has the details"

    def __init__(self, message: str | None = None, *, errors: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        self.errors = errors
        self.headers = headers or {}


class InvalidInput(DomainError):
    status = 400
    default_message = "the request is invalid; see 'errors' for what to change"


class Unauthorized(DomainError):
    status = 401
    default_message = ("authentication required: send 'Authorization: Bearer <token>' with a "
                       "token from POST /auth/token")

    def __init__(self, message: str | None = None, **kwargs):
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="trainq"'})
        super().__init__(message, **kwargs)


class Forbidden(DomainError):
    status = 403
    default_message = "you are not allowed to do this"


class NotFound(DomainError):
    status = 404
    default_message = "not found"


class Conflict(DomainError):
    status = 409
    default_message = "the request conflicts with the current state"


class ServiceUnavailable(DomainError):
    status = 503
    default_message = "a service trainq needs is not answering; try again shortly"

    def __init__(self, message: str | None = None, **kwargs):
        kwargs.setdefault("headers", {"Retry-After": "5"})
        super().__init__(message, **kwargs)


class TooManyRequests(DomainError):
    status = 429
    default_message = "too many requests; wait and try again"

    def __init__(self, message: str | None = None, *, retry_after: int = 60, **kwargs):
        kwargs.setdefault("headers", {"Retry-After": str(max(1, int(retry_after)))})
        super().__init__(message, **kwargs)
