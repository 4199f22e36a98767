"""Token authentication: every /api/v1 route needs a valid Bearer token."""
from __future__ import annotations

import time

import jwt
import pytest
import requests

ROUTES = [("GET", "/api/v1/training/jobs"), ("POST", "/api/v1/training/jobs"),
          ("GET", "/api/v1/training/jobs/job-x"), ("POST", "/api/v1/training/jobs/job-x/stop"),
          ("DELETE", "/api/v1/training/jobs/job-x"), ("GET", "/api/v1/training/jobs/job-x/logs"),
          ("GET", "/api/v1/training/jobs/job-x/metrics")]


def _token(settings, **claims) -> str:
    now = int(time.time())
    base = {"sub": "1", "ver": 1, "iat": now, "exp": now + 60}
    return jwt.encode({**base, **claims}, settings.secret_key, algorithm="HS256")


@pytest.mark.parametrize("method, path", ROUTES)
def test_every_route_needs_a_token(stack, method, path):
    response = requests.request(method, stack["base_url"] + path, json={}, timeout=10)
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == 401 and "POST /auth/token" in body["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header, fragment", [
    ("Basic YWRtaW46YWRtaW4=", "authentication required"),
    ("Bearer", "authentication required"),
    ("Bearer not-a-token", "not valid"),
], ids=["basic", "empty-bearer", "garbage"])
def test_malformed_authorization_is_refused(stack, header, fragment):
    response = requests.get(stack["base_url"] + "/api/v1/training/jobs",
                            headers={"Authorization": header}, timeout=10)
    assert response.status_code == 401 and fragment in response.json()["message"]


def test_expired_tampered_and_unsigned_tokens_are_refused(stack, settings):
    expired = _token(settings, exp=int(time.time()) - 5)
    tampered = _token(settings)[:-4] + "AAAA"
    unsigned = jwt.encode({"sub": "1", "ver": 1, "exp": int(time.time()) + 60}, None,
                          algorithm="none")
    wrong_key = jwt.encode({"sub": "1", "ver": 1, "exp": int(time.time()) + 60}, "k" * 32,
                           algorithm="HS256")
    for token, fragment in [(expired, "expired"), (tampered, "not valid"),
                            (unsigned, "not valid"), (wrong_key, "not valid")]:
        response = requests.get(stack["base_url"] + "/api/v1/training/jobs", timeout=10,
                                headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, token
        assert fragment in response.json()["message"]


def test_token_of_an_unknown_user_or_old_version_is_refused(stack, settings):
    for claims in ({"sub": "99999"}, {"ver": 0}):
        response = requests.get(stack["base_url"] + "/api/v1/training/jobs", timeout=10,
                                headers={"Authorization": f"Bearer {_token(settings, **claims)}"})
        assert response.status_code == 401 and "no longer valid" in response.json()["message"]


def test_token_endpoint(stack):
    url = stack["base_url"] + "/auth/token"
    wrong = requests.post(url, json={"username": "admin", "password": "wrong-password"}, timeout=10)
    assert wrong.status_code == 401 and wrong.json()["message"] == "wrong username or password"
    nobody = requests.post(url, json={"username": "nobody", "password": "x" * 10}, timeout=10)
    assert nobody.status_code == 401 and nobody.json()["message"] == wrong.json()["message"]
    missing = requests.post(url, json={"username": "admin"}, timeout=10)
    assert missing.status_code == 400 and "password" in missing.json()["errors"]


def test_issued_token_works_and_says_how_long(stack, api):
    from tests.conftest import ADMIN_PASSWORD

    response = requests.post(stack["base_url"] + "/auth/token", timeout=10,
                             json={"username": "admin", "password": ADMIN_PASSWORD})
    token = response.json()
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3600
    listed = requests.get(stack["base_url"] + "/api/v1/training/jobs", timeout=10,
                          headers={"Authorization": f"Bearer {token['access_token']}"})
    assert listed.status_code == 200
