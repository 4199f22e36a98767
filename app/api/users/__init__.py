"""/api/v1/admin/users: user administration (admins only)."""
from app.api.users.resources import blp

__all__ = ["blp"]
