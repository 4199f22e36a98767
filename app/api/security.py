"""Authentication and the request hooks that enforce access rules (decided in services.access)."""
from __future__ import annotations

from flask import current_app, g, request

from app.errors import Unauthorized
from app.services import access
from app.services.auth import decode_token, user_from_claims
from app.ui.session import CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE, check_csrf

#: Named in the OpenAPI document; every protected blueprint declares it.
BEARER_SCHEME = {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
#: The `security` of a protected operation in the OpenAPI document.
BEARER = [{"bearerAuth": []}]


def require_user() -> None:
    """A before_request hook: sets g.user (and g.token_claims) or raises 401 in the envelope.

    A request with an Authorization header is judged by it alone. One without it may be the
    dashboard's: its session cookie holds the same kind of token, and a state-changing request
    it authenticates must carry the session's CSRF token too (403 otherwise)."""
    if "user" in g:
        return
    header = request.headers.get("Authorization")
    if header is None and SESSION_COOKIE in request.cookies:
        _sign_in(request.cookies[SESSION_COOKIE], from_cookie=True)
        return
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized()
    _sign_in(token.strip(), from_cookie=False)


def _sign_in(token: str, from_cookie: bool) -> None:
    runtime = current_app.extensions["trainq"]
    claims = decode_token(token, runtime.settings.secret_key)
    with runtime.db.read() as session:
        user = user_from_claims(session, claims)
        session.expunge(user)
    if from_cookie and request.method.upper() not in access.READ_METHODS:
        sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD)
        check_csrf(runtime.settings.secret_key, claims, sent)
    g.user, g.token_claims = user, claims


def require_admin() -> None:
    """before_request of admin-only blueprints: 401 without a token, 403 without the role."""
    require_user()
    access.require_admin(g.user)


def authorize_job(job_id: str, need: access.Role | None = None) -> None:
    """The job-access resolver: every route that names a job calls it with the id, however its
    API names it (`job_id` in the URL or in a body, `instanceName`, …), before it reads or
    changes the job. 404 unless the caller may see the job (exactly as for a missing one), 403
    when their role is below `need` (default: viewer to read, manager to change)."""
    require_user()
    need = need or access.role_for_method(request.method)
    with current_app.extensions["trainq"].db.read() as session:
        access.check_job(session, g.user, job_id, need)
