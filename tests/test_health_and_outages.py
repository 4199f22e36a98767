"""Health check, and what the API does when Redis or the database does not answer."""
from __future__ import annotations

import time

import pytest
import requests

from app import create_app
from config.settings import SettingsError
from tests.conftest import ADMIN_PASSWORD
from tests.support.client import VALID_JOB
from tests.support.stack import free_port


def test_healthz_is_ok_with_everything_up(stack):
    response = requests.get(stack["base_url"] + "/healthz", timeout=5)
    assert response.status_code == 200
    assert response.json()["data"] == {"database": "ok", "redis": "ok"}


@pytest.fixture
def app_without_redis(settings, migrated):
    app = create_app(settings.with_changes(redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    return app.test_client()


def _token(client) -> str:
    return client.post("/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD}
                       ).get_json()["access_token"]


def test_redis_down_healthz_503_names_redis(app_without_redis):
    response = app_without_redis.get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["errors"]["database"] == "ok" and "not answering" in body["errors"]["redis"]
    assert "redis" in body["message"]


def test_redis_down_submit_is_503_fast_and_records_nothing(app_without_redis):
    headers = {"Authorization": f"Bearer {_token(app_without_redis)}"}
    before = app_without_redis.get("/api/v1/training/jobs", headers=headers).get_json()
    started = time.monotonic()
    response = app_without_redis.post("/api/v1/training/jobs", json=VALID_JOB, headers=headers)
    assert time.monotonic() - started < 5
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert "nothing was changed" in response.get_json()["message"]
    after = app_without_redis.get("/api/v1/training/jobs", headers=headers).get_json()
    assert after["data"]["pagination"]["total"] == before["data"]["pagination"]["total"]


def test_database_down_healthz_503_names_database(settings):
    url = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none?connect_timeout=2"
    client = create_app(settings.with_changes(database_url=url)).test_client()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert "not answering" in response.get_json()["errors"]["database"]


def test_app_refuses_to_start_without_a_signing_key(settings):
    with pytest.raises(SettingsError, match="TRAINQ_SECRET_KEY"):
        create_app(settings.with_changes(secret_key=""))
