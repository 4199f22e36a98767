"""/api/v1/admin/base-models: the base models seed 002's models are trained from (admins only)."""
from app.api.base_models.resources import blp

__all__ = ["blp"]
