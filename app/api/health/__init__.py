"""GET /healthz: 200 when the database and Redis answer, 503 naming what does not."""
from app.api.health.resources import blp

__all__ = ["blp"]
