"""Health check for load balancers and `make run`."""
from flask import current_app
from sqlalchemy import text

from app.api.base import Blueprint, envelope, errors, ok
from app.errors import ServiceUnavailable

blp = Blueprint("health", __name__, description="Liveness of the API and what it depends on")


@blp.route("/healthz")
@blp.response(200, envelope(None, "HealthEnvelope"))
@errors(blp, 503)
def healthz():
    """200 when the database and Redis answer; 503 with the reason otherwise."""
    runtime = current_app.extensions["trainq"]
    checks = {"database": _check(lambda: _ping_db(runtime)),
              "redis": _check(runtime.redis.ping)}
    failing = {name: state for name, state in checks.items() if state != "ok"}
    if failing:
        raise ServiceUnavailable("; ".join(f"{n}: {s}" for n, s in failing.items()),
                                 errors=checks)
    return ok(checks, "ok")


def _ping_db(runtime) -> None:
    with runtime.db.read() as session:
        session.execute(text("SELECT 1"))


def _check(probe) -> str:
    try:
        probe()
        return "ok"
    except Exception as exc:  # any failure is the answer, not an error of this endpoint
        return f"not answering ({type(exc).__name__}: {str(exc)[:200]})"
