"""User administration; every route needs the admin role (401 without a token, 403 without)."""
from flask import current_app, g

from app.api.base import AUTH_ERRORS, BODY_ERRORS, Blueprint, PageArgsSchema, envelope, errors, \
    ok, page_data
from app.api.security import BEARER, require_admin
from app.api.users import schemas as s
from app.models import User
from app.services import users
from app.services.auth import create_user

blp = Blueprint("admin_users", __name__, url_prefix="/api/v1/admin/users",
                description="Users (admins only)")
blp.before_request(require_admin)
USER_ID = "<int(max=2147483647):user_id>"
_ERRORS = (*AUTH_ERRORS, 403)


def _db():
    return current_app.extensions["trainq"].db


@blp.route("", methods=["GET"])
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, envelope(s.UserPageSchema, "UserPageEnvelope"))
@blp.doc(security=BEARER)
@errors(blp, *_ERRORS)
def list_users(args):
    """Every user with their workspaces and roles, by id."""
    with _db().read() as session:
        page = users.list_users(session, page=args["page"], page_size=args["page_size"])
        page.items = [users.describe(session, user) for user in page.items]
    return ok(page_data(page))


@blp.route("", methods=["POST"])
@blp.arguments(s.UserCreateSchema)
@blp.response(201, envelope(s.UserSchema, "UserCreatedEnvelope"))
@blp.doc(security=BEARER)
@errors(blp, *BODY_ERRORS, *_ERRORS, 409)
def create(body):
    """Create a user (409 when the name is taken); add them to workspaces with PUT
    /api/v1/admin/workspaces/{id}/members/{user_id}."""
    with _db().write() as session:
        user = create_user(session, body["username"], body["password"], body["is_admin"])
        return ok(users.describe(session, user), "user created")


@blp.route(f"/{USER_ID}", methods=["GET"])
@blp.response(200, envelope(s.UserSchema, "UserEnvelope"))
@blp.doc(security=BEARER)
@errors(blp, *_ERRORS, 404)
def get(user_id):
    """One user with their workspaces and roles."""
    with _db().read() as session:
        return ok(users.describe(session, users.get_user(session, user_id)))


@blp.route(f"/{USER_ID}", methods=["PATCH"])
@blp.arguments(s.UserUpdateSchema)
@blp.response(200, envelope(s.UserSchema, "UserUpdatedEnvelope"))
@blp.doc(security=BEARER)
@errors(blp, *BODY_ERRORS, *_ERRORS, 404, 409)
def update(body, user_id):
    """Reset the password (their tokens stop working at once) or grant/take the admin role."""
    with _db().write() as session:
        user = users.update_user(session, users.get_user(session, user_id), _acting(session),
                                 **body)
        return ok(users.describe(session, user), "user updated")


@blp.route(f"/{USER_ID}", methods=["DELETE"])
@blp.response(204)
@blp.doc(security=BEARER)
@errors(blp, *_ERRORS, 404, 409)
def delete(user_id):
    """Remove a user: their tokens stop working at once; their jobs stay in their workspaces."""
    with _db().write() as session:
        users.delete_user(session, users.get_user(session, user_id), _acting(session))
    return "", 204


def _acting(session) -> User:
    return session.get(User, g.user.id)
