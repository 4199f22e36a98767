"""A method a route does not take answers 405 in the usual envelope, with the Allow header
RFC 9110 requires: the methods it does take (Flask adds HEAD to GET and answers OPTIONS itself)."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("method, path, allowed", [
    ("PUT", "/api/v1/training/jobs", "GET HEAD OPTIONS POST"),
    ("PATCH", "/api/v1/training/jobs/job-nope", "DELETE GET HEAD OPTIONS"),
    ("GET", "/api/v1/training/jobs/job-nope/stop", "OPTIONS POST"),
    ("DELETE", "/auth/token", "OPTIONS POST"),
    ("POST", "/healthz", "GET HEAD OPTIONS"),
    ("TRACE", "/api/v1/admin/users/1", "DELETE GET HEAD OPTIONS PATCH"),
])
def test_a_wrong_method_is_405_with_allow(api, method, path, allowed):
    response = api.request(method, path)
    assert response.status_code == 405, response.text
    assert sorted(response.headers["Allow"].split(", ")) == allowed.split()
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == 405 and body["data"] is None and "method" in body["message"]
