"""The dashboard's Flask blueprint (not an API operation: no OpenAPI entry), its error pages
and the headers every page carries."""
from __future__ import annotations

from flask import Blueprint, Flask, g, redirect, render_template, request, url_for

from app.api.errors import handle_domain_error
from app.errors import DomainError, Unauthorized

URL_PREFIX = "/ui"
blp = Blueprint("ui", __name__, url_prefix=URL_PREFIX, template_folder="templates",
                static_folder="static")
#: Scripts and styles only from this site (uPlot is vendored), no framing, no referrer leak.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin"}


def register_ui(app: Flask) -> None:
    from app.ui import views  # noqa: F401 - its routes register on blp

    app.register_blueprint(blp)


def is_ui_request() -> bool:
    return request.blueprint == blp.name


@blp.after_request
def _headers(response):
    response.headers.update(SECURITY_HEADERS)
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@blp.errorhandler(DomainError)
def _domain_error(error: DomainError):
    """Pages answer people: a login form when signed out, an error page otherwise. Streams
    and the static files answer as the API does."""
    if not _wants_page():
        return handle_domain_error(error)
    if isinstance(error, Unauthorized):
        return redirect(url_for("ui.login", next=request.full_path.rstrip("?")))
    return render_template("error.html", status=error.status, message=error.message,
                           user=g.get("user")), error.status


def _wants_page() -> bool:
    return not request.path.startswith((f"{URL_PREFIX}/stream/", f"{URL_PREFIX}/static/"))
