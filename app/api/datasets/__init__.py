"""/api/v1/admin/datasets: the dataset registry (admins only)."""
from app.api.datasets.resources import blp

__all__ = ["blp"]
