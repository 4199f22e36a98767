"""Batch submission: POST /api/v1/training/jobs/batch."""
from app.api.batch.resources import blp

__all__ = ["blp"]
