"""List a job's webhook deliveries and redeliver a dead one."""
from flask import current_app

from app.api.base import JOB_READ_ERRORS, JOB_WRITE_ERRORS, Blueprint, envelope, errors, ok
from app.api.deliveries.schemas import DeliveryListSchema, DeliverySchema
from app.api.security import BEARER, authorize_job, require_user
from app.services import deliveries

blp = Blueprint("webhook_deliveries", __name__, url_prefix="/api/v1/training/jobs",
                description="Webhook deliveries of a job: state, attempts, last error")
blp.before_request(require_user)


@blp.route("/<job_id>/webhooks", methods=["GET"])
@blp.response(200, envelope(DeliveryListSchema, "DeliveryListEnvelope"))
@blp.doc(security=BEARER)
@errors(blp, *JOB_READ_ERRORS)
def list_deliveries(job_id):
    """Every webhook owed for the job, oldest first, with its delivery state."""
    authorize_job(job_id)
    with current_app.extensions["trainq"].db.read() as session:
        rows = deliveries.list_deliveries(session, job_id)
    return ok({"deliveries": rows})


@blp.route("/<job_id>/webhooks/<int:delivery_id>/redeliver", methods=["POST"])
@blp.response(200, envelope(DeliverySchema, "DeliveryEnvelope"))
@blp.doc(security=BEARER)
@errors(blp, *JOB_WRITE_ERRORS)
def redeliver(job_id, delivery_id):
    """Send a dead delivery again (same event id); 409 unless it is dead."""
    authorize_job(job_id)
    row = deliveries.redeliver(current_app.extensions["trainq"], job_id, delivery_id)
    return ok(row, "delivery queued again")
