"""A job's webhook deliveries under /api/v1/training/jobs/{job_id}/webhooks."""
from app.api.deliveries.resources import blp

__all__ = ["blp"]
