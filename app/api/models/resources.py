"""Seed 002's models: create one (and the job that trains it), list, read, activate, publish.
A project is a workspace: members read its models, managers also create and release them;
a project the caller does not belong to is a 404, exactly like one that does not exist."""
from flask import current_app, g

from app.api.base import AUTH_ERRORS, BODY_ERRORS, Blueprint, PageArgsSchema, envelope, errors, \
    ok, page_data
from app.api.models import schemas as s
from app.api.security import BEARER, require_user
from app.services import access, model_view, models
from app.services.access import Role

blp = Blueprint("models", __name__, url_prefix="/api/v1/projects",
                description="Seed 002's models: each is trained by a job of the project")
blp.before_request(require_user)
MODELS = "/<int(max=9007199254740991):project_id>/models"
MODEL = MODELS + "/<int(max=9007199254740991):model_id>"
_READ_ERRORS = (*AUTH_ERRORS, 404)
_WRITE_ERRORS = (*AUTH_ERRORS, 403, 404, 409)


def _runtime():
    return current_app.extensions["trainq"]


@blp.route(MODELS, methods=["POST"])
@blp.arguments(s.ModelCreateSchema)
@blp.response(201, envelope(s.ModelSchema, "ModelCreatedEnvelope"))
@blp.doc(security=BEARER)
@errors(blp, *BODY_ERRORS, *_WRITE_ERRORS, 429, 503)
def create(body, project_id):
    """Train a new model: its base model's script runs as a job of the project on the
    datasets named (annotation_ids as train and test set, else the two lists). Needs the
    manager role in the project; 400 for an unknown base model or dataset; 409 when the
    project has a model of that name."""
    model_id = models.create_model(_runtime(), project_id, body, g.user)
    return ok(_model(project_id, model_id), "model training was started")


@blp.route(MODELS, methods=["GET"])
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, envelope(s.ModelPageSchema, "ModelPageEnvelope"))
@blp.doc(security=BEARER)
@errors(blp, *_READ_ERRORS)
def list_models(args, project_id):
    """The project's models, newest first."""
    with _runtime().db.read() as session:
        access.check_workspace(session, g.user, project_id, Role.VIEWER, "reading models")
        return ok(page_data(model_view.list_models(
            session, project_id, page=args["page"], page_size=args["page_size"])))


@blp.route(MODEL, methods=["GET"])
@blp.response(200, envelope(s.ModelSchema, "ModelEnvelope"))
@blp.doc(security=BEARER)
@errors(blp, *_READ_ERRORS)
def get(project_id, model_id):
    """The model with the status, progress and score its training gives it."""
    return ok(_model(project_id, model_id))


@blp.route(MODEL + "/activate", methods=["POST"])
@blp.response(200, envelope(s.ModelSchema, "ModelActivatedEnvelope"))
@blp.doc(security=BEARER)
@errors(blp, *_WRITE_ERRORS)
def activate(project_id, model_id):
    """READY → ACTIVE; 409 for a model in any other status."""
    return _release(project_id, model_id, "activate")


@blp.route(MODEL + "/publish", methods=["POST"])
@blp.response(200, envelope(s.ModelSchema, "ModelPublishedEnvelope"))
@blp.doc(security=BEARER)
@errors(blp, *_WRITE_ERRORS)
def publish(project_id, model_id):
    """ACTIVE or READY → PUBLISHED; 409 for a model in any other status."""
    return _release(project_id, model_id, "publish")


def _release(project_id: int, model_id: int, action: str) -> dict:
    step = models.release(_runtime(), project_id, model_id, g.user, action)
    return ok(_model(project_id, model_id), f"model {step.done}")


def _model(project_id: int, model_id: int) -> dict:
    with _runtime().db.read() as session:
        access.check_workspace(session, g.user, project_id, Role.VIEWER, "reading models")
        return model_view.get_model(session, project_id, model_id)
