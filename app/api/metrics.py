"""GET /metrics for Prometheus (app/metrics). Outside /api/v1 but in the OpenAPI document like
every route: the answer is Prometheus' text format, not the JSON envelope (errors still use it)."""
from __future__ import annotations

import hmac

from flask import Response, current_app, request
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from app.api.base import Blueprint, errors
from app.errors import ServiceUnavailable, Unauthorized
from app.metrics.collector import render

blp = Blueprint("metrics", __name__, description="Prometheus metrics of jobs, queues, GPUs "
                "and workers")

#: Prometheus' text exposition format (or OpenMetrics when the scraper asks for it).
_TEXT = {"schema": {"type": "string"}}


@blp.route("/metrics", methods=["GET"])
@blp.doc(responses={"200": {"description": "the metrics in Prometheus' text format",
                            "content": {"text/plain": _TEXT,
                                        "application/openmetrics-text": _TEXT}}})
@errors(blp, 401, 503)
def metrics():
    """Scraped by Prometheus; needs `Authorization: Bearer <TRAINQ_METRICS_TOKEN>` when set."""
    runtime = current_app.extensions["trainq"]
    _require_token(runtime.settings.metrics_token)
    try:
        body, content_type = render(runtime, request.headers.get("Accept", ""))
    except SQLAlchemyError as exc:
        raise _down("the database", exc) from None
    except RedisError as exc:
        raise _down("Redis", exc) from None
    return Response(body, content_type=content_type, headers={"Cache-Control": "no-store"})


def _require_token(expected: str) -> None:
    """Empty TRAINQ_METRICS_TOKEN: open, like /healthz. Otherwise the exact bearer token,
    compared in constant time so its bytes cannot be guessed one by one from response times."""
    if not expected:
        return
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                             expected.encode()):
        raise Unauthorized("GET /metrics needs 'Authorization: Bearer <TRAINQ_METRICS_TOKEN>'; "
                           "in a Prometheus scrape config, set authorization.credentials to it")


def _down(what: str, exc: Exception) -> ServiceUnavailable:
    # Not the URL: it may carry a password, and this message also lands in Prometheus' logs.
    return ServiceUnavailable(f"metrics cannot be read: {what} is not answering "
                              f"({type(exc).__name__}: {str(exc)[:200]}); GET /healthz says "
                              "what is down, and the next scrape succeeds once it is back")
