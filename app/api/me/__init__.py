"""/api/v1/me: who the caller is and which workspaces they may use."""
from app.api.me.resources import blp

__all__ = ["blp"]
