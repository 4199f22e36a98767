"""POST /auth/token: exchange a username and password for an access token."""
from app.api.auth.resources import blp

__all__ = ["blp"]
