"""The dataset registry: directories under TRAINQ_DATASET_ROOT that jobs name by id. Admins
only; the worker hands the directories to the script (TRAINQ_DATASET_DIR, TRAINQ_DATASETS)."""
from flask import current_app, g

from app.api.base import AUTH_ERRORS, BODY_ERRORS, Blueprint, PageArgsSchema, envelope, errors, \
    ok, page_data
from app.api.datasets import schemas as s
from app.api.security import BEARER, require_admin
from app.services import datasets

blp = Blueprint("admin_datasets", __name__, url_prefix="/api/v1/admin/datasets",
                description="The dataset registry (admins only)")
blp.before_request(require_admin)
DATASET_ID = "<int(max=9007199254740991):dataset_id>"
_ERRORS = (*AUTH_ERRORS, 403)


def _runtime():
    return current_app.extensions["trainq"]


@blp.route("", methods=["GET"])
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, envelope(s.DatasetPageSchema, "DatasetPageEnvelope"))
@blp.doc(security=BEARER)
@errors(blp, *_ERRORS)
def list_datasets(args):
    """Every registered dataset, by id."""
    with _runtime().db.read() as session:
        return ok(page_data(datasets.list_datasets(
            session, page=args["page"], page_size=args["page_size"])))


@blp.route("", methods=["POST"])
@blp.arguments(s.DatasetCreateSchema)
@blp.response(201, envelope(s.DatasetSchema, "DatasetCreatedEnvelope"))
@blp.doc(security=BEARER)
@errors(blp, *BODY_ERRORS, *_ERRORS, 409)
def create(body):
    """Register a directory under TRAINQ_DATASET_ROOT (it must exist on the API host); 409
    when the name and version are taken."""
    runtime = _runtime()
    with runtime.db.write() as session:
        dataset = datasets.register(session, runtime.settings.dataset_root, body, g.user.id)
        return ok(datasets.describe(dataset), "dataset registered")


@blp.route(f"/{DATASET_ID}", methods=["GET"])
@blp.response(200, envelope(s.DatasetSchema, "DatasetEnvelope"))
@blp.doc(security=BEARER)
@errors(blp, *_ERRORS, 404)
def get(dataset_id):
    with _runtime().db.read() as session:
        return ok(datasets.describe(datasets.get_dataset(session, dataset_id)))
