"""Authentication and the request hooks that enforce access rules (decided in services.access)."""
from __future__ import annotations

from flask import current_app, g, request

from app.errors import Unauthorized
from app.services import access
from app.services.auth import decode_token, user_from_claims

#: Named in the OpenAPI document; every protected blueprint declares it.
BEARER_SCHEME = {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
#: The `security` of a protected operation in the OpenAPI document.
BEARER = [{"bearerAuth": []}]


def require_user() -> None:
    """A before_request hook: sets g.user (and g.token_claims) or raises 401 in the envelope."""
    if "user" in g:
        return
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized()
    runtime = current_app.extensions["trainq"]
    claims = decode_token(token.strip(), runtime.settings.secret_key)
    with runtime.db.read() as session:
        user = user_from_claims(session, claims)
        session.expunge(user)
    g.user, g.token_claims = user, claims


def require_admin() -> None:
    """before_request of admin-only blueprints: 401 without a token, 403 without the role."""
    require_user()
    access.require_admin(g.user)


def require_job_access() -> None:
    """An app-wide before_request hook: any route whose URL names a job_id, whichever blueprint
    it lives in, answers 404 unless the caller may see the job and 403 when a viewer tries to
    change it. One place, so a new job route cannot forget the check."""
    job_id = (request.view_args or {}).get("job_id")
    if job_id is None:
        return
    require_user()
    with current_app.extensions["trainq"].db.read() as session:
        access.check_job(session, g.user, job_id, access.role_for_method(request.method))
