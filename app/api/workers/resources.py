"""Worker host administration; every route needs the admin role (401 without a token, 403
without). Hosts register themselves: there is nothing to create or delete here."""
from flask import current_app

from app.api.base import AUTH_ERRORS, Blueprint, PageArgsSchema, envelope, errors, ok, page_data
from app.api.security import BEARER, require_admin
from app.api.workers import schemas as s
from app.services import hosts

blp = Blueprint("admin_workers", __name__, url_prefix="/api/v1/admin/workers",
                description="Worker hosts and draining (admins only)")
blp.before_request(require_admin)
_ERRORS = (*AUTH_ERRORS, 403, 503)


def _runtime():
    return current_app.extensions["trainq"]


@blp.route("", methods=["GET"])
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, envelope(s.HostPageSchema, "HostPageEnvelope"))
@blp.doc(security=BEARER)
@errors(blp, *_ERRORS)
def list_workers(args):
    """Every registered host with its state, free GPUs and slots and running jobs, by name."""
    return ok(page_data(hosts.host_page(_runtime(), page=args["page"],
                                        page_size=args["page_size"])))


@blp.route("/<name>/drain", methods=["POST"])
@blp.response(200, envelope(s.HostSchema, "HostDrainedEnvelope"))
@blp.doc(security=BEARER)
@errors(blp, *_ERRORS, 404)
def drain(name):
    """Drain a host: its running jobs finish, nothing new is placed there (before maintenance).
    Draining a draining host changes nothing."""
    return ok(hosts.drain(_runtime(), name), f"host {name!r} is draining")


@blp.route("/<name>/undrain", methods=["POST"])
@blp.response(200, envelope(s.HostSchema, "HostUndrainedEnvelope"))
@blp.doc(security=BEARER)
@errors(blp, *_ERRORS, 404)
def undrain(name):
    """Let a drained host take new work again."""
    return ok(hosts.drain(_runtime(), name, draining=False), f"host {name!r} takes new work")
