"""Runs: every attempt of a job, listed across jobs or for one job."""
from app.api.runs.resources import blp

__all__ = ["blp"]
