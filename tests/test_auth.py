"""Token authentication: every /api/v1 route needs a valid Bearer token."""
from __future__ import annotations

import base64
import json
import secrets
import time
import uuid

import jwt
import pytest
import requests

from app import create_app
from config.keys import login_failures_key
from tests.conftest import ADMIN_PASSWORD

ROUTES = [("GET", "/api/v1/training/jobs"), ("POST", "/api/v1/training/jobs"),
          ("GET", "/api/v1/training/jobs/job-x"), ("POST", "/api/v1/training/jobs/job-x/stop"),
          ("DELETE", "/api/v1/training/jobs/job-x"), ("GET", "/api/v1/training/jobs/job-x/logs"),
          ("GET", "/api/v1/training/jobs/job-x/metrics")]


def _token(settings, **claims) -> str:
    now = int(time.time())
    base = {"sub": "1", "ver": 1, "iat": now, "exp": now + 60, "jti": secrets.token_hex(8)}
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


def _b64(data) -> str:
    raw = json.dumps(data).encode() if isinstance(data, dict) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _claims(**extra) -> dict:
    now = int(time.time())
    return {"sub": "1", "ver": 1, "iat": now, "exp": now + 60, "jti": "x1", **extra}


def _status_and_message(stack, token: str) -> tuple[int, str]:
    response = requests.get(stack["base_url"] + "/api/v1/training/jobs", timeout=10,
                            headers={"Authorization": f"Bearer {token}"})
    return response.status_code, response.json()["message"]


@pytest.mark.parametrize("attack", [
    "alg-none-lowercase", "alg-None-capitalised", "rs256-header", "hs512-right-key",
    "missing-exp", "missing-jti", "not-yet-valid", "signature-stripped", "three-garbage-parts",
])
def test_forged_tokens_are_refused(stack, settings, attack):
    """No 'none', no algorithm taken from the header, every claim that matters required."""
    key = settings.secret_key
    header = {"typ": "JWT"}
    tokens = {
        "alg-none-lowercase": f"{_b64({**header, 'alg': 'none'})}.{_b64(_claims())}.",
        "alg-None-capitalised": f"{_b64({**header, 'alg': 'None'})}.{_b64(_claims())}.",
        "rs256-header": f"{_b64({**header, 'alg': 'RS256'})}.{_b64(_claims())}.{_b64(b'x' * 256)}",
        "hs512-right-key": jwt.encode(_claims(), key, algorithm="HS512"),
        "missing-exp": jwt.encode({k: v for k, v in _claims().items() if k != "exp"}, key,
                                  algorithm="HS256"),
        "missing-jti": jwt.encode({k: v for k, v in _claims().items() if k != "jti"}, key,
                                  algorithm="HS256"),
        "not-yet-valid": jwt.encode(_claims(nbf=int(time.time()) + 600), key, algorithm="HS256"),
        "signature-stripped": jwt.encode(_claims(), key, algorithm="HS256").rsplit(".", 1)[0] + ".",
        "three-garbage-parts": "a.b.c",
    }
    status, message = _status_and_message(stack, tokens[attack])
    assert status == 401 and "not valid" in message


def _login(stack, username, password) -> requests.Response:
    return requests.post(stack["base_url"] + "/auth/token", timeout=10,
                         json={"username": username, "password": password})


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def member(api):
    """A fresh non-admin user: (username, password, user id)."""
    name, password = f"tok-{uuid.uuid4().hex[:8]}", "pass-" + secrets.token_hex(8)
    created = api.request("POST", "/api/v1/admin/users",
                          json={"username": name, "password": password})
    assert created.status_code == 201, created.text
    return name, password, created.json()["data"]["id"]


def test_logout_revokes_that_token_at_once_and_only_that_one(stack, member):
    name, password, _ = member
    first, second = (_login(stack, name, password).json()["access_token"] for _ in range(2))
    me = stack["base_url"] + "/api/v1/me"
    assert requests.get(me, headers=_bearer(first), timeout=10).status_code == 200
    out = requests.post(stack["base_url"] + "/auth/logout", headers=_bearer(first), timeout=10)
    assert out.status_code == 200 and out.json()["code"] == 0
    refused = requests.get(me, headers=_bearer(first), timeout=10)
    assert refused.status_code == 401 and "no longer valid" in refused.json()["message"]
    assert requests.get(me, headers=_bearer(second), timeout=10).status_code == 200
    again = requests.post(stack["base_url"] + "/auth/logout", headers=_bearer(first), timeout=10)
    assert again.status_code == 401


def test_password_change_invalidates_every_earlier_token(stack, member):
    name, password, _ = member
    token = _login(stack, name, password).json()["access_token"]
    other = _login(stack, name, password).json()["access_token"]
    url = stack["base_url"] + "/auth/password"
    wrong = requests.post(url, headers=_bearer(token), timeout=10,
                          json={"current_password": "not-it-at-all", "new_password": "x" * 12})
    assert wrong.status_code == 401 and "current password" in wrong.json()["message"]
    short = requests.post(url, headers=_bearer(token), timeout=10,
                          json={"current_password": password, "new_password": "short"})
    assert short.status_code == 400 and "new_password" in short.json()["errors"]
    changed = requests.post(url, headers=_bearer(token), timeout=10,
                            json={"current_password": password, "new_password": "new-" + password})
    assert changed.status_code == 200
    for old in (token, other):
        assert _status_and_message(stack, old)[0] == 401
    assert _login(stack, name, password).status_code == 401
    assert _login(stack, name, "new-" + password).status_code == 200


def test_admin_reset_and_removal_invalidate_tokens(stack, api, member):
    name, password, user_id = member
    token = _login(stack, name, password).json()["access_token"]
    reset = api.request("PATCH", f"/api/v1/admin/users/{user_id}",
                        json={"password": "reset-" + password})
    assert reset.status_code == 200
    assert _status_and_message(stack, token)[0] == 401
    token = _login(stack, name, "reset-" + password).json()["access_token"]
    assert api.request("DELETE", f"/api/v1/admin/users/{user_id}").status_code == 204
    status, message = _status_and_message(stack, token)
    assert status == 401 and "no longer valid" in message


def test_repeated_failed_logins_are_rate_limited_per_user(stack, settings, member, redis_client):
    name, password, _ = member
    try:
        for _ in range(settings.login_max_failures):
            assert _login(stack, name, "wrong-password").status_code == 401
        limited = _login(stack, name, password)  # even the right password now waits
        assert limited.status_code == 429
        assert 0 < int(limited.headers["Retry-After"]) <= settings.login_window_seconds
        assert "too many failed logins" in limited.json()["message"]
    finally:
        _forget_login_failures(redis_client, name, "127.0.0.1")
    assert _login(stack, name, password).status_code == 200


def test_failed_logins_are_rate_limited_per_address(settings, migrated, redis_client):
    """One address guessing many usernames: counted per client address as well."""
    app = create_app(settings.with_changes(login_max_failures_per_ip=3))
    client = app.test_client()
    address = f"10.{uuid.uuid4().int % 250}.7.9"
    environ = {"REMOTE_ADDR": address}
    names = [f"nobody-{uuid.uuid4().hex[:6]}" for _ in range(4)]
    try:
        for name in names[:3]:
            response = client.post("/auth/token", environ_base=environ,
                                   json={"username": name, "password": "guess-guess"})
            assert response.status_code == 401
        limited = client.post("/auth/token", environ_base=environ,
                              json={"username": "admin", "password": ADMIN_PASSWORD})
        assert limited.status_code == 429 and limited.headers["Retry-After"]
        other = client.post("/auth/token", environ_base={"REMOTE_ADDR": "10.255.0.1"},
                            json={"username": "admin", "password": ADMIN_PASSWORD})
        assert other.status_code == 200
    finally:
        for name in names:
            _forget_login_failures(redis_client, name, address)


def _forget_login_failures(redis_client, username: str, address: str) -> None:
    redis_client.delete(login_failures_key("user", username.lower()),
                        login_failures_key("ip", address))


def test_secrets_never_reach_the_logs(stack, api, settings):
    from tests.conftest import ADMIN_PASSWORD as password

    _login(stack, "admin", "a-wrong-password-for-the-log")
    api.request("GET", "/api/v1/training/jobs")
    logs = "".join(service.log() for service in stack["services"].values())
    for secret in (settings.secret_key, password, "a-wrong-password-for-the-log",
                   api.http.headers["Authorization"].split()[1]):
        assert secret not in logs
    assert settings.secret_key not in repr(settings) and password not in repr(settings)


def _protected_operations(spec: dict) -> list[tuple[str, str]]:
    fill = {"{job_id}": "job-x", "{user_id}": "1", "{workspace_id}": "1", "{delivery_id}": "1",
            "{dataset_id}": "1", "{base_id}": "1", "{project_id}": "1", "{model_id}": "1"}
    found = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            # /metrics is open unless TRAINQ_METRICS_TOKEN is set (tests/test_metrics.py)
            if method == "parameters" or path in ("/auth/token", "/healthz", "/metrics"):
                continue
            for placeholder, value in fill.items():
                path = path.replace(placeholder, value)
            found.append((method.upper(), path))
    return found


def test_every_documented_operation_but_login_health_and_metrics_needs_a_token(stack):
    spec = requests.get(stack["base_url"] + "/openapi.json", timeout=10).json()
    operations = _protected_operations(spec)
    assert len(operations) >= 20
    for method, path in operations:
        response = requests.request(method, stack["base_url"] + path, json={}, timeout=10)
        assert response.status_code == 401, (method, path, response.status_code)
