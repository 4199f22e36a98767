"""Base models: the recipes seed 002's models are trained from. Admins only."""
from flask import current_app

from app.api.base import AUTH_ERRORS, BODY_ERRORS, Blueprint, PageArgsSchema, envelope, errors, \
    ok, page_data
from app.api.base_models import schemas as s
from app.api.security import BEARER, require_admin
from app.services import base_models

blp = Blueprint("admin_base_models", __name__, url_prefix="/api/v1/admin/base-models",
                description="Base models that seed 002's models are trained from (admins only)")
blp.before_request(require_admin)
BASE_ID = "<int(max=9007199254740991):base_id>"
_ERRORS = (*AUTH_ERRORS, 403)


def _runtime():
    return current_app.extensions["trainq"]


@blp.route("", methods=["GET"])
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, envelope(s.BaseModelPageSchema, "BaseModelPageEnvelope"))
@blp.doc(security=BEARER)
@errors(blp, *_ERRORS)
def list_base_models(args):
    """Every base model, by id."""
    with _runtime().db.read() as session:
        return ok(page_data(base_models.list_base_models(
            session, page=args["page"], page_size=args["page_size"])))


@blp.route("", methods=["POST"])
@blp.arguments(s.BaseModelCreateSchema)
@blp.response(201, envelope(s.BaseModelSchema, "BaseModelCreatedEnvelope"))
@blp.doc(security=BEARER)
@errors(blp, *BODY_ERRORS, *_ERRORS, 409)
def create(body):
    """Declare a base model: its script (inside TRAINQ_SCRIPT_ROOT), arguments and resources
    as for a job, its type, and the metric that scores what it trains; 409 when the name is
    taken."""
    runtime = _runtime()
    with runtime.db.write() as session:
        base = base_models.declare(session, runtime.settings, body)
        return ok(base_models.describe(base), "base model declared")


@blp.route(f"/{BASE_ID}", methods=["GET"])
@blp.response(200, envelope(s.BaseModelSchema, "BaseModelEnvelope"))
@blp.doc(security=BEARER)
@errors(blp, *_ERRORS, 404)
def get(base_id):
    with _runtime().db.read() as session:
        return ok(base_models.describe(base_models.get_base_model(session, base_id)))
