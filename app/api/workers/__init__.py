"""/api/v1/admin/workers: the worker hosts, their capacity and draining (admins only)."""
from app.api.workers.resources import blp

__all__ = ["blp"]
