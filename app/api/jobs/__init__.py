"""The training-job API of seed 001 under /api/v1/training/jobs."""
from app.api.jobs.resources import blp

__all__ = ["blp"]
