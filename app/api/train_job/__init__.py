"""Seed 004: POST /openapi/v1/train_job/create, /detail and /stop."""
from app.api.train_job.resources import blp

__all__ = ["blp"]
