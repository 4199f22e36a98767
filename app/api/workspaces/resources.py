"""Workspace administration: workspaces, their limits, their members. Admins only."""
from flask import current_app

from app.api.base import AUTH_ERRORS, BODY_ERRORS, Blueprint, PageArgsSchema, envelope, errors, \
    ok, page_data
from app.api.security import BEARER, require_admin
from app.api.workspaces import schemas as s
from app.services import users, workspaces
from app.services.access import Role

blp = Blueprint("admin_workspaces", __name__, url_prefix="/api/v1/admin/workspaces",
                description="Workspaces and their members (admins only)")
blp.before_request(require_admin)
WORKSPACE_ID = "<int(max=9007199254740991):workspace_id>"
USER_ID = "<int(max=2147483647):user_id>"
_ERRORS = (*AUTH_ERRORS, 403)


def _db():
    return current_app.extensions["trainq"].db


@blp.route("", methods=["GET"])
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, envelope(s.WorkspacePageSchema, "WorkspacePageEnvelope"))
@blp.doc(security=BEARER)
@errors(blp, *_ERRORS)
def list_workspaces(args):
    """Every workspace with its limits, its queued jobs and the GPUs its jobs hold, by id."""
    with _db().read() as session:
        return ok(page_data(workspaces.list_workspaces(
            session, page=args["page"], page_size=args["page_size"])))


@blp.route("", methods=["POST"])
@blp.arguments(s.WorkspaceCreateSchema)
@blp.response(201, envelope(s.WorkspaceSchema, "WorkspaceCreatedEnvelope"))
@blp.doc(security=BEARER)
@errors(blp, *BODY_ERRORS, *_ERRORS, 409)
def create(body):
    """Create a workspace (max_queued_jobs defaults to 1000); 409 when the name is taken."""
    with _db().write() as session:
        workspace = workspaces.create_workspace(session, body)
        return ok(workspaces.describe(session, workspace), "workspace created")


@blp.route(f"/{WORKSPACE_ID}", methods=["GET"])
@blp.response(200, envelope(s.WorkspaceSchema, "WorkspaceEnvelope"))
@blp.doc(security=BEARER)
@errors(blp, *_ERRORS, 404)
def get(workspace_id):
    with _db().read() as session:
        return ok(workspaces.describe(session, workspaces.get_workspace(session, workspace_id)))


@blp.route(f"/{WORKSPACE_ID}", methods=["PATCH"])
@blp.arguments(s.WorkspaceUpdateSchema)
@blp.response(200, envelope(s.WorkspaceSchema, "WorkspaceUpdatedEnvelope"))
@blp.doc(security=BEARER)
@errors(blp, *BODY_ERRORS, *_ERRORS, 404, 409)
def update(body, workspace_id):
    """Rename, describe, or change the limits (they apply to jobs submitted from now on)."""
    with _db().write() as session:
        workspace = workspaces.get_workspace(session, workspace_id)
        workspaces.update_workspace(session, workspace, body)
        return ok(workspaces.describe(session, workspace), "workspace updated")


@blp.route(f"/{WORKSPACE_ID}", methods=["DELETE"])
@blp.response(204)
@blp.doc(security=BEARER)
@errors(blp, *_ERRORS, 404, 409)
def delete(workspace_id):
    """Delete an empty workspace (409 while it has jobs); its memberships go with it."""
    with _db().write() as session:
        workspaces.delete_workspace(session, workspaces.get_workspace(session, workspace_id))
    return "", 204


@blp.route(f"/{WORKSPACE_ID}/members", methods=["GET"])
@blp.response(200, envelope(s.MemberListSchema, "MemberListEnvelope"))
@blp.doc(security=BEARER)
@errors(blp, *_ERRORS, 404)
def list_members(workspace_id):
    with _db().read() as session:
        workspace = workspaces.get_workspace(session, workspace_id)
        return ok({"members": workspaces.members(session, workspace)})


@blp.route(f"/{WORKSPACE_ID}/members/{USER_ID}", methods=["PUT"])
@blp.arguments(s.MemberRoleSchema)
@blp.response(200, envelope(s.MemberSchema, "MemberEnvelope"))
@blp.doc(security=BEARER)
@errors(blp, *BODY_ERRORS, *_ERRORS, 404)
def put_member(body, workspace_id, user_id):
    """Add the user to the workspace with `role`, or change their role there."""
    with _db().write() as session:
        workspace = workspaces.get_workspace(session, workspace_id)
        member = workspaces.set_member(session, workspace, users.get_user(session, user_id),
                                       Role(body["role"]))
    return ok(member, "member saved")


@blp.route(f"/{WORKSPACE_ID}/members/{USER_ID}", methods=["DELETE"])
@blp.response(204)
@blp.doc(security=BEARER)
@errors(blp, *_ERRORS, 404)
def remove_member(workspace_id, user_id):
    """Take the user out of the workspace: from now on its jobs are 404 for them."""
    with _db().write() as session:
        workspace = workspaces.get_workspace(session, workspace_id)
        workspaces.remove_member(session, workspace, users.get_user(session, user_id))
    return "", 204
