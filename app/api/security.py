"""Bearer-token authentication for the /api/v1 routes."""
from __future__ import annotations

from flask import current_app, g, request

from app.errors import Unauthorized
from app.services.auth import user_from_token

#: Named in the OpenAPI document; every protected blueprint declares it.
BEARER_SCHEME = {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}


def require_user() -> None:
    """A before_request hook: sets g.user or raises 401 in the envelope."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized()
    runtime = current_app.extensions["trainq"]
    with runtime.db.read() as session:
        user = user_from_token(session, token.strip(), runtime.settings.secret_key)
        session.expunge(user)
    g.user = user
