"""Listing with pages and filters, detail, delete rules, unknown ids."""
from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def workspace(api) -> int:
    """A workspace of its own, so the listing sees only this test's jobs."""
    created = api.request("POST", "/api/v1/admin/workspaces",
                          json={"name": f"listing-{uuid.uuid4().hex[:10]}"})
    assert created.status_code == 201, created.text
    return created.json()["data"]["id"]


def _list(api, **params):
    response = api.request("GET", "/api/v1/training/jobs", params=params)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_pages_are_newest_first_and_complete(api, workspace):
    ids = [api.submit_ok(gpu=2, workspace_id=workspace, name=f"job {i}") for i in range(5)]
    pages = [_list(api, workspace_id=workspace, page=p, page_size=2) for p in (1, 2, 3)]
    assert pages[0]["pagination"] == {"page": 1, "page_size": 2, "total": 5, "total_pages": 3}
    listed = [item["job_id"] for page in pages for item in page["items"]]
    assert listed == list(reversed(ids))
    assert _list(api, workspace_id=workspace, page=4, page_size=2)["items"] == []


def test_status_filter_and_aliases(api, workspace):
    queued = api.submit_ok(gpu=2, workspace_id=workspace)
    cancelled = api.submit_ok(gpu=2, workspace_id=workspace)
    api.request("POST", f"/api/v1/training/jobs/{cancelled}/stop")
    for word in ("queued", "pending", "PENDING"):
        items = _list(api, workspace_id=workspace, status=word)["items"]
        assert [i["job_id"] for i in items] == [queued]
    items = _list(api, workspace_id=workspace, status="cancelled")["items"]
    assert [i["job_id"] for i in items] == [cancelled]
    assert _list(api, workspace_id=workspace, status="running")["items"] == []


@pytest.mark.parametrize("params, field", [
    ({"status": "exploded"}, "status"), ({"page": 0}, "page"), ({"page_size": 101}, "page_size"),
    ({"page": "x"}, "page"), ({"workspace_id": "abc"}, "workspace_id")])
def test_bad_list_parameters_are_400(api, params, field):
    response = api.request("GET", "/api/v1/training/jobs", params=params)
    assert response.status_code == 400 and field in response.json()["errors"]


def test_unknown_job_is_404_on_every_route(api):
    for method, suffix in [("GET", ""), ("POST", "/stop"), ("DELETE", ""), ("GET", "/logs"),
                           ("GET", "/metrics")]:
        response = api.request(method, f"/api/v1/training/jobs/job-nope{suffix}")
        assert response.status_code == 404, (method, suffix)
        assert "job-nope" in response.json()["message"]


def test_delete_rules(api):
    live = api.submit_ok(gpu=2)
    response = api.request("DELETE", f"/api/v1/training/jobs/{live}")
    assert response.status_code == 409 and "stop it first" in response.json()["message"]
    api.request("POST", f"/api/v1/training/jobs/{live}/stop")
    response = api.request("DELETE", f"/api/v1/training/jobs/{live}")
    assert response.status_code == 204 and response.content == b""
    assert api.request("GET", f"/api/v1/training/jobs/{live}").status_code == 404


def test_deleting_a_trained_job_removes_its_logs_and_metrics(api):
    job_id = api.submit_ok(script_path="mixed_metrics.py")
    api.wait_terminal(job_id)
    assert api.request("DELETE", f"/api/v1/training/jobs/{job_id}").status_code == 204
    assert api.request("GET", f"/api/v1/training/jobs/{job_id}/logs").status_code == 404
    assert api.request("GET", f"/api/v1/training/jobs/{job_id}/metrics").status_code == 404


def test_logs_lines_parameter(api):
    job_id = api.submit_ok(script_path="mixed_metrics.py")
    api.wait_terminal(job_id)
    logs = api.request("GET", f"/api/v1/training/jobs/{job_id}/logs", params={"lines": 1})
    assert logs.json()["data"]["logs"] == ["plain line"]
    bad = api.request("GET", f"/api/v1/training/jobs/{job_id}/logs", params={"lines": 0})
    assert bad.status_code == 400 and "lines" in bad.json()["errors"]


UTC_Z = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"


def test_datetimes_are_utc_with_z_as_the_document_writes_them(api, workspace):
    """Seed 001 writes `2026-01-26T10:00:00Z`: UTC with Z (milliseconds allowed), never +00:00."""
    import re

    job_id = api.submit_ok(gpu=2, workspace_id=workspace)
    api.request("POST", f"/api/v1/training/jobs/{job_id}/stop")
    detail = api.job(job_id)
    item = _list(api, workspace_id=workspace)["items"][0]
    moments = [detail["created_at"], detail["finished_at"], detail["timeline"]["created"],
               detail["timeline"]["finished"], item["created_at"]]
    assert all(re.match(UTC_Z, moment) for moment in moments), moments
    assert detail["started_at"] is None and detail["timeline"]["started"] is None
