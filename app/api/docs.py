"""Swagger UI at /api/docs over /openapi.json. Its JavaScript and CSS come from the
swagger-ui-bundle-v2 package (Swagger UI 5, which reads OpenAPI 3.1) and are served by trainq itself: no CDN, so the page works on a
cluster without internet access and loads nothing a third party could change."""
from __future__ import annotations

from flask import Blueprint, Flask, send_from_directory
from swagger_ui_bundle import swagger_ui_path

#: Where the page is (relative to OPENAPI_URL_PREFIX "/") and where its assets are.
SWAGGER_UI_PATH = "api/docs"
ASSETS_URL = "/api/docs/assets/"

assets = Blueprint("swagger_assets", __name__)


def docs_config() -> dict[str, str]:
    """flask-smorest's settings for the page."""
    return {"OPENAPI_SWAGGER_UI_PATH": SWAGGER_UI_PATH, "OPENAPI_SWAGGER_UI_URL": ASSETS_URL}


@assets.route(f"{ASSETS_URL}<path:name>", methods=["GET"])
def asset(name: str):
    # send_from_directory refuses names that leave the folder (../), answering 404.
    return send_from_directory(str(swagger_ui_path), name, max_age=24 * 3600)


def register_docs_assets(app: Flask) -> None:
    app.register_blueprint(assets)
