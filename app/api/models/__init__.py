"""/api/v1/projects/{project_id}/models: seed 002's models, each trained by a job."""
from app.api.models.resources import blp

__all__ = ["blp"]
