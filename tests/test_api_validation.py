"""Every validation rule of job submission answers 400 with a message on the field at fault."""
from __future__ import annotations

import json
import os
import re

import pytest
import requests

from tests.support.client import VALID_JOB

BAD_BODIES = [
    ("name", {"name": ...}, "Missing data"),
    ("name", {"name": ""}, "Length must be between 1 and 200"),
    ("name", {"name": "   "}, "must not be blank"),
    ("name", {"name": "x" * 201}, "Length must be between 1 and 200"),
    ("name", {"name": 5}, "Not a valid string"),
    ("framework", {"framework": "jax"}, "must be one of: pytorch, tensorflow"),
    ("framework", {"framework": ...}, "Missing data"),
    ("script_path", {"script_path": "missing.py"}, "no script at"),
    ("script_path", {"script_path": "../../etc/passwd"}, "must be inside the script root"),
    ("script_path", {"script_path": "/etc/passwd"}, "must be inside the script root"),
    ("script_path", {"script_path": "fail.py\x00.txt"}, "NUL byte"),
    ("script_path", {"script_path": ...}, "Missing data"),
    ("cpu", {"cpu": 0}, "must be 1 to 1024"),
    ("cpu", {"cpu": "2"}, "must be a whole number"),
    ("cpu", {"cpu": True}, "must be a whole number"),
    ("cpu", {"cpu": 1.5}, "must be a whole number"),
    ("memory", {"memory": 0}, "greater than 0"),
    ("memory", {"memory": -5}, "greater than 0"),
    ("memory", {"memory": ...}, "Missing data"),
    ("gpu", {"gpu": -1}, "must be 0 or more"),
    ("gpu", {"gpu": 3}, "do not fit any pool"),
    ("gpu", {"gpu": 2, "pool": "gpu"}, "do not fit pool 'gpu'"),
    ("pool", {"pool": "tpu"}, "unknown pool 'tpu'"),
    ("priority", {"priority": 11}, "must be 0 to 10"),
    ("priority", {"priority": -1}, "must be 0 to 10"),
    ("priority", {"priority": "high"}, "must be a whole number"),
    ("status", {"status": "completed"}, "unknown field; accepted fields are"),
    ("attempt", {"attempt": 3}, "unknown field"),
    ("args", {"args": "--epochs 3"}, "Not a valid list"),
    ("envs", {"envs": {"TRAINQ_JOB_ID": "x"}}, "cannot be overridden"),
    ("envs", {"envs": {"CUDA_VISIBLE_DEVICES": "0,1"}}, "cannot be overridden"),
    ("envs", {"envs": {"1BAD": "x"}}, "not a valid variable name"),
    ("notify_url", {"notify_url": "ftp://example.com"}, "Not a valid URL"),
    ("max_running_time_ms", {"max_running_time_ms": 10}, "must be 1000 ms"),
    ("workspace_id", {"workspace_id": "456"}, "must be a whole number"),
    ("workspace_id", {"workspace_id": True}, "must be a whole number"),
    ("script_path", {"script_path": "x" * 300 + ".py"}, "cannot be used"),
    ("memory", {"memory": 2**63}, "greater than 0"),
    ("gpu", {"gpu": 1.0}, "must be a whole number"),
    ("gpu", {"gpu": 1025}, "must be 0 or more"),
    ("name", {"name": None}, "Field may not be null"),
    ("args", {"args": ["x"] * 257}, "Longer than maximum length 256"),
    ("envs", {"envs": {"A-B": "x"}}, "not a valid variable name"),
    ("envs", {"envs": {"TRAINQ_SECRET_KEY": "x"}}, "cannot be overridden"),
    ("notify_url", {"notify_url": "http://u:p@example.com/"}, "credentials"),
    ("external_id", {"external_id": "x" * 201}, "Length must be between"),
    ("status", {"status": "queued"}, "unknown field"),
    ("created_by", {"created_by": 1}, "unknown field"),
    ("owner", {"owner": "admin"}, "unknown field"),
    ("queue", {"queue": "train.gpu.p10"}, "unknown field"),
]


@pytest.mark.parametrize("field, change, message", BAD_BODIES,
                         ids=[f"{f}-{i}" for i, (f, _, _) in enumerate(BAD_BODIES)])
def test_invalid_job_is_refused_with_a_field_message(api, field, change, message):
    before = api.request("GET", "/api/v1/training/jobs").json()["data"]["pagination"]["total"]
    response = api.submit(**change)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == 400 and body["data"] is None and body["message"]
    assert message in " ".join(body["errors"][field]), body["errors"]
    after = api.request("GET", "/api/v1/training/jobs").json()["data"]["pagination"]["total"]
    assert after == before  # nothing recorded


def test_script_link_pointing_out_of_the_root_is_refused(api, script_root, tmp_path):
    outside = tmp_path / "outside.py"
    outside.write_text("print('escaped')\n")
    link = script_root / "innocent.py"
    os.symlink(outside, link)
    try:
        response = api.submit(script_path="innocent.py")
    finally:
        link.unlink()
    assert response.status_code == 400
    assert "after following links" in response.json()["errors"]["script_path"][0]


def test_absolute_script_path_inside_the_root_is_accepted(api, script_root):
    response = api.submit(script_path=str(script_root / "show_env.py"), gpu=2)
    assert response.status_code == 201
    assert response.json()["data"]["script_path"] == "show_env.py"


def test_defaults_and_routing_of_an_accepted_job(api):
    body = {k: v for k, v in VALID_JOB.items() if k != "priority"}
    response = api.request("POST", "/api/v1/training/jobs", json={**body, "gpu": 2})
    assert response.status_code == 201
    data = response.json()["data"]
    assert data["status"] == "queued" and data["priority"] == 5
    assert (data["pool"], data["queue"]) == ("idle", "train.idle.p05")
    assert data["job_id"].startswith("job-")


def test_body_must_be_json(api):
    response = api.request("POST", "/api/v1/training/jobs", data="name=x",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 415
    assert "Content-Type: application/json" in response.json()["message"]


def test_malformed_json_is_a_400(api):
    response = api.request("POST", "/api/v1/training/jobs", data="{not json",
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["code"] == 400


def test_oversized_body_is_a_413(api):
    response = api.submit(description="x" * (2 * 1024 * 1024))
    assert response.status_code == 413
    assert "too large" in response.json()["message"]


def test_unknown_route_and_method_use_the_envelope(api):
    response = api.request("GET", "/api/v1/nothing-here")
    assert response.status_code == 404 and response.json()["code"] == 404
    response = api.request("PUT", "/api/v1/training/jobs")
    assert response.status_code == 405 and "method" in response.json()["message"]


def test_openapi_document_lists_every_route(stack):
    spec = requests.get(stack["base_url"] + "/openapi.json", timeout=10).json()
    paths = spec["paths"]
    assert {"/api/v1/training/jobs", "/api/v1/training/jobs/{job_id}",
            "/api/v1/training/jobs/{job_id}/stop", "/api/v1/training/jobs/{job_id}/logs",
            "/api/v1/training/jobs/{job_id}/metrics", "/auth/token", "/healthz"} <= set(paths)
    assert "bearerAuth" in spec["components"]["securitySchemes"]


def test_deeply_nested_json_is_a_400_not_a_500(api):
    for body in ("[" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000):
        response = api.request("POST", "/api/v1/training/jobs", data=body,
                               headers={"Content-Type": "application/json"})
        assert response.status_code in (400, 413), response.status_code


def test_every_route_of_the_app_is_in_the_openapi_document(settings, migrated):
    """No undocumented route (OWASP API9): the document is what schemathesis checks."""
    from app import create_app

    app = create_app(settings)
    spec = app.test_client().get("/openapi.json").get_json()
    documented = {(re.sub(r"\{[^}]+\}", "{}", path), method.upper())
                  for path, ops in spec["paths"].items() for method in ops}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ("static", "api-docs.openapi_json", "api-docs.openapi_swagger_ui",
                             "swagger_assets.asset"):
            continue  # the document itself, and Swagger UI's page and assets over it
        if rule.rule.startswith("/ui/"):
            continue  # the dashboard's HTML pages, forms and event streams: not API operations
        path = re.sub(r"<[^>]+>", "{}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, (rule.rule, method)


@pytest.mark.parametrize("raw, field", [
    ('"memory": 1e309', "memory"), ('"memory": 1073741824.0', "memory"),
    ('"args": [1, 2]', "args"), ('"envs": {"A": 1}', "envs"), ('"envs": ["A"]', "envs"),
    ('"args": [["nested"]]', "args"),
])
def test_wrong_json_types_are_refused(api, raw, field):
    body = json.dumps({k: v for k, v in VALID_JOB.items() if k != field})[:-1] + ", " + raw + "}"
    response = api.request("POST", "/api/v1/training/jobs", data=body,
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and field in response.json()["errors"], response.text
