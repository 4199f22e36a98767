"""/api/v1/admin/workspaces: workspaces, their limits and members (admins only)."""
from app.api.workspaces.resources import blp

__all__ = ["blp"]
