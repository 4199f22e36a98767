"""SQLAlchemy 2.x typed models, one module per aggregate; imported here so metadata is complete."""
from app.models.base import Base
from app.models.catalogue import BaseModel, Dataset
from app.models.idempotency import IdempotencyKey
from app.models.job import Job, JobAttempt, JobTransition
from app.models.telemetry import JobLogLine, JobMetric, JobStep, JobStepSpan
from app.models.trained_model import TrainedModel
from app.models.user import User
from app.models.webhook import WebhookDelivery
from app.models.workspace import Membership, RevokedToken, Workspace

__all__ = ["Base", "BaseModel", "Dataset", "IdempotencyKey", "Job", "JobAttempt", "JobTransition",
           "JobLogLine", "JobMetric", "JobStep", "JobStepSpan",
           "Membership", "RevokedToken", "TrainedModel", "User",
           "WebhookDelivery", "Workspace"]
