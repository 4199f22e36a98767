"""The caller's own account: name, admin or not, workspaces and roles."""
from flask import current_app, g

from app.api.base import AUTH_ERRORS, Blueprint, envelope, errors, ok
from app.api.security import BEARER, require_user
from app.api.users.schemas import UserSchema
from app.services import users

blp = Blueprint("me", __name__, url_prefix="/api/v1/me", description="The caller's account")
blp.before_request(require_user)


@blp.route("", methods=["GET"])
@blp.response(200, envelope(UserSchema, "MeEnvelope"))
@blp.doc(security=BEARER)
@errors(blp, *AUTH_ERRORS)
def me():
    """The caller with their workspaces and roles: a job without workspace_id goes to the one
    workspace they manage."""
    with current_app.extensions["trainq"].db.read() as session:
        return ok(users.describe(session, g.user))
