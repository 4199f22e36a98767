"""Flask extensions trainq customises; the factory builds one of each per app."""
import flask_smorest

from app.api.base import ErrorSchema
from app.api.errors import handle_http_exception


class Api(flask_smorest.Api):
    """flask-smorest's Api with trainq's error envelope instead of its own, also in the
    OpenAPI document (every documented error response uses it)."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error):
        return handle_http_exception(error)

