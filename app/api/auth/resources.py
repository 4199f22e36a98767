"""Token endpoint. Answers the token object itself, as seed 004 does, not the envelope."""
from flask import current_app

from app.api.base import Blueprint
from app.api.auth.schemas import TokenRequestSchema, TokenSchema
from app.services.auth import check_credentials, issue_token

blp = Blueprint("auth", __name__, url_prefix="/auth", description="Access tokens")


@blp.route("/token", methods=["POST"])
@blp.arguments(TokenRequestSchema)
@blp.response(200, TokenSchema)
def create_token(body):
    """Get an access token for a username and password."""
    runtime = current_app.extensions["trainq"]
    with runtime.db.read() as session:
        user = check_credentials(session, body["username"], body["password"])
    return issue_token(user, runtime.settings.secret_key, runtime.settings.token_ttl_seconds)
