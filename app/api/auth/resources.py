"""Token endpoints. POST /auth/token answers the token object itself, as seed 004 does; the
others use the envelope."""
from flask import current_app, g, request

from app.api.auth.schemas import PasswordChangeSchema, TokenRequestSchema, TokenSchema
from app.api.base import AUTH_ERRORS, BODY_ERRORS, Blueprint, envelope, errors, ok
from app.api.security import BEARER, require_user
from app.errors import Unauthorized
from app.models import User
from app.services.auth import check_credentials, issue_token, revoke_token, set_password
from app.services.login_limit import LoginLimiter

blp = Blueprint("auth", __name__, url_prefix="/auth", description="Access tokens")


@blp.before_request
def _authenticate():
    """Every route here but the login itself needs the token, checked before the body is."""
    if request.endpoint != f"{blp.name}.create_token":
        require_user()


def _runtime():
    return current_app.extensions["trainq"]


def _limiter() -> LoginLimiter:
    return LoginLimiter(_runtime().redis, _runtime().settings)


@blp.route("/token", methods=["POST"])
@blp.arguments(TokenRequestSchema)
@blp.response(200, TokenSchema)
@errors(blp, *BODY_ERRORS, 401, 429)
def create_token(body):
    """Get an access token for a username and password. Repeated failures for one user or from
    one address answer 429 with Retry-After until the window ends."""
    limiter, client = _limiter(), request.remote_addr or ""
    limiter.check(body["username"], client)
    with _runtime().db.read() as session:
        try:
            user = check_credentials(session, body["username"], body["password"])
        except Unauthorized:
            limiter.failed(body["username"], client)
            raise
    limiter.succeeded(body["username"])
    return issue_token(user, _runtime().settings.secret_key, _runtime().settings.token_ttl_seconds)


@blp.route("/logout", methods=["POST"])
@blp.response(200, envelope(None, "LogoutEnvelope"))
@blp.doc(security=BEARER)
@errors(blp, *AUTH_ERRORS)
def logout():
    """Revoke the token this request carries, at once; other tokens of the user stay valid."""
    with _runtime().db.write() as session:
        revoke_token(session, g.token_claims)
    return ok(None, "logged out; this token no longer works")


@blp.route("/password", methods=["POST"])
@blp.arguments(PasswordChangeSchema)
@blp.response(200, envelope(None, "PasswordChangedEnvelope"))
@blp.doc(security=BEARER)
@errors(blp, *BODY_ERRORS, *AUTH_ERRORS, 429)
def change_password(body):
    """Change your own password; every token issued before, this one included, stops working."""
    limiter, client = _limiter(), request.remote_addr or ""
    limiter.check(g.user.username, client)
    with _runtime().db.write() as session:
        user = session.get(User, g.user.id)
        try:
            check_credentials(session, user.username, body["current_password"])
        except Unauthorized:
            limiter.failed(user.username, client)
            raise Unauthorized("the current password is wrong") from None
        set_password(session, user, body["new_password"])
    return ok(None, "password changed; log in again with the new password")
