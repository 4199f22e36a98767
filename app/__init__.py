"""trainq control plane: the Flask app factory."""
from __future__ import annotations

import logging

from flask import Flask, request
from werkzeug.exceptions import UnsupportedMediaType

from app.api import MODULES, metrics
from app.api.docs import docs_config, register_docs_assets
from app.api.errors import register_error_handlers
from app.api.security import BEARER_SCHEME
from app.extensions import Api
from app.runtime import Runtime
from app.ui.blueprint import is_ui_request, register_ui
from config.settings import Settings, SettingsError

MAX_BODY_BYTES = 1024 * 1024
#: HS256 keys shorter than the hash output are guessable offline from one token (RFC 7518 3.2).
MIN_SECRET_KEY_LENGTH = 32
API_VERSION = "1.0.0"


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    register_config(app, settings)
    register_runtime(app, settings)
    api = register_extensions(app)
    register_blueprints(api)
    register_metrics(api)
    register_docs_assets(app)
    register_ui(app)
    register_error_handlers(app)
    register_request_checks(app)
    return app


def register_config(app: Flask, settings: Settings) -> None:
    if not settings.secret_key:
        raise SettingsError("TRAINQ_SECRET_KEY is not set; tokens cannot be signed without it "
                            "(`make run` generates one under ./var)")
    if len(settings.secret_key) < MIN_SECRET_KEY_LENGTH:
        raise SettingsError(f"TRAINQ_SECRET_KEY is too short: use at least "
                            f"{MIN_SECRET_KEY_LENGTH} random characters (openssl rand -hex 32)")
    logging.basicConfig(level=settings.log_level)
    app.config.update(
        SECRET_KEY=settings.secret_key, MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        API_TITLE="trainq", API_VERSION=API_VERSION, OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/", OPENAPI_JSON_PATH="openapi.json", **docs_config(),
        API_SPEC_OPTIONS={"components": {"securitySchemes": BEARER_SCHEME}})


def register_runtime(app: Flask, settings: Settings) -> None:
    app.extensions["trainq"] = Runtime(settings)


def register_extensions(app: Flask) -> Api:
    return Api(app)


def register_blueprints(api: Api) -> None:
    for module in MODULES:
        api.register_blueprint(module.blp)


def register_metrics(api: Api) -> None:
    # Documented like every route, although its answer is Prometheus' text, not the envelope.
    api.register_blueprint(metrics.blp)


def register_request_checks(app: Flask) -> None:
    @app.before_request
    def _json_only():
        # A body in another format would be read as "no fields" and answered with a confusing
        # list of missing fields; say what is wrong instead.
        if request.method in ("POST", "PUT", "PATCH") and request.content_length:
            if not request.is_json and not is_ui_request():  # the dashboard posts forms
                raise UnsupportedMediaType()
