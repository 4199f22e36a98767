"""Seed 003's run history over trainq's runs: /v4/openapi/app-groups/…/tasks."""
from app.api.run_history.resources import blp

__all__ = ["blp"]
