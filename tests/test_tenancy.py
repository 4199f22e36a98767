"""Workspaces and roles, the IDOR matrix: two workspaces x viewer / manager / outsider / admin x
every route that takes a job id or lists. A foreign job is a 404 (never 403), lists never show
one, a viewer may read but not change, admin-only routes are 403 for everybody else."""
from __future__ import annotations

import re
import secrets
import uuid
from types import SimpleNamespace

import pytest

from tests.support.client import ApiClient

pytestmark = pytest.mark.e2e
READS = [("GET", ""), ("GET", "/logs"), ("GET", "/metrics"), ("GET", "/webhooks"),
         ("GET", "/runs"), ("GET", "/queue")]
WRITES = [("POST", "/stop"), ("DELETE", ""), ("POST", "/webhooks/1/redeliver")]
ADMIN_ROUTES = [("GET", "/api/v1/admin/users"), ("POST", "/api/v1/admin/users"),
                ("GET", "/api/v1/admin/users/1"), ("PATCH", "/api/v1/admin/users/1"),
                ("DELETE", "/api/v1/admin/users/1"), ("GET", "/api/v1/admin/workspaces"),
                ("POST", "/api/v1/admin/workspaces"), ("GET", "/api/v1/admin/workspaces/1"),
                ("PATCH", "/api/v1/admin/workspaces/1"), ("DELETE", "/api/v1/admin/workspaces/1"),
                ("GET", "/api/v1/admin/workspaces/1/members"),
                ("PUT", "/api/v1/admin/workspaces/1/members/1"),
                ("DELETE", "/api/v1/admin/workspaces/1/members/1"),
                ("GET", "/api/v1/admin/datasets"), ("POST", "/api/v1/admin/datasets"),
                ("GET", "/api/v1/admin/datasets/1"), ("GET", "/api/v1/admin/base-models"),
                ("POST", "/api/v1/admin/base-models"), ("GET", "/api/v1/admin/base-models/1"),
                ("GET", "/api/v1/admin/workers"), ("POST", "/api/v1/admin/workers/h1/drain"),
                ("POST", "/api/v1/admin/workers/h1/undrain")]
PARKED = {"pool": "idle", "gpu": 0}  # the idle pool has no worker: the job stays queued


def make_workspace(api, prefix: str, **limits) -> dict:
    response = api.request("POST", "/api/v1/admin/workspaces",
                           json={"name": f"{prefix}-{uuid.uuid4().hex[:8]}", **limits})
    assert response.status_code == 201, response.text
    return response.json()["data"]


def make_user(api, stack, prefix: str, roles: dict[int, str]) -> ApiClient:
    name, password = f"{prefix}-{uuid.uuid4().hex[:8]}", secrets.token_hex(12)
    created = api.request("POST", "/api/v1/admin/users",
                          json={"username": name, "password": password})
    assert created.status_code == 201, created.text
    user_id = created.json()["data"]["id"]
    for workspace_id, role in roles.items():
        member = api.request("PUT", f"/api/v1/admin/workspaces/{workspace_id}/members/{user_id}",
                             json={"role": role})
        assert member.status_code == 200, member.text
    client = ApiClient.login(stack["base_url"], name, password)
    client.user_id, client.name = user_id, name
    return client


@pytest.fixture(scope="module")
def tenants(stack, api):
    a, b = make_workspace(api, "team-a"), make_workspace(api, "team-b")
    who = {
        "viewer_a": make_user(api, stack, "viewer-a", {a["id"]: "viewer"}),
        "manager_a": make_user(api, stack, "manager-a", {a["id"]: "manager"}),
        "manager_b": make_user(api, stack, "manager-b", {b["id"]: "manager"}),
        "outsider": make_user(api, stack, "outsider", {}),
        "admin": api,
    }
    job_a = who["manager_a"].submit_ok(**PARKED)  # no workspace_id: the one it manages
    job_b = who["manager_b"].submit_ok(**PARKED)
    return SimpleNamespace(a=a, b=b, who=who, job_a=job_a, job_b=job_b)


def _call(client, method, job_id, suffix):
    return client.request(method, f"/api/v1/training/jobs/{job_id}{suffix}")


def test_the_matrix_covers_every_job_route_of_the_app(settings, migrated):
    """Access is a call each route makes (security.authorize_job), not a hook: a new job route
    missing from READS or WRITES would go unchecked by the matrix below, so it fails here."""
    from app import create_app

    def as_rule(suffix: str) -> str:   # the matrix's delivery id 1, as the rule names it
        return f"/api/v1/training/jobs/<job_id>{suffix}".replace("/1/", "/<int:delivery_id>/")
    covered = {(method, as_rule(suffix))
               for method, suffix in READS + WRITES}
    routes = {(method, rule.rule) for rule in create_app(settings).url_map.iter_rules()
              if "job_id" in rule.arguments and rule.rule.startswith("/api/")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes == covered


def test_jobs_land_in_the_submitters_only_managed_workspace(tenants):
    assert tenants.who["admin"].job(tenants.job_a)["workspace_id"] == tenants.a["id"]
    assert tenants.who["admin"].job(tenants.job_b)["workspace_id"] == tenants.b["id"]


@pytest.mark.parametrize("method, suffix", READS + WRITES)
@pytest.mark.parametrize("who, job", [("outsider", "job_a"), ("manager_b", "job_a"),
                                      ("outsider", "job_b"), ("manager_a", "job_b"),
                                      ("viewer_a", "job_b")])
def test_a_foreign_job_is_404_exactly_like_a_missing_one(tenants, who, job, method, suffix):
    client, job_id = tenants.who[who], getattr(tenants, job)
    response = _call(client, method, job_id, suffix)
    missing = _call(client, method, "job-0000000000000000", suffix)
    assert response.status_code == missing.status_code == 404
    assert response.json()["message"] == missing.json()["message"].replace(
        "job-0000000000000000", job_id)


@pytest.mark.parametrize("method, suffix", READS)
@pytest.mark.parametrize("who", ["viewer_a", "manager_a", "admin"])
def test_members_and_admin_read_the_job(tenants, who, method, suffix):
    assert _call(tenants.who[who], method, tenants.job_a, suffix).status_code == 200


@pytest.mark.parametrize("method, suffix", WRITES)
def test_a_viewer_is_403_naming_the_role_it_needs(tenants, method, suffix):
    response = _call(tenants.who["viewer_a"], method, tenants.job_a, suffix)
    assert response.status_code == 403
    assert "needs the manager role" in response.json()["message"]
    assert "you are a viewer" in response.json()["message"]


@pytest.mark.parametrize("who", ["manager_a", "admin"])
def test_a_manager_and_the_admin_change_the_job(tenants, who):
    client = tenants.who[who]
    job_id = tenants.who["manager_a"].submit_ok(**PARKED)
    assert _call(client, "POST", job_id, "/stop").status_code == 200
    assert _call(client, "POST", job_id, "/stop").status_code == 409  # access passed, then state
    redeliver = _call(client, "POST", job_id, "/webhooks/999999/redeliver")
    assert redeliver.status_code == 404 and "no webhook delivery" in redeliver.json()["message"]
    assert _call(client, "DELETE", job_id, "").status_code == 204
    assert _call(client, "GET", job_id, "").status_code == 404


FILTERS = [{}, {"status": "queued"}, {"status": "pending"}, {"page_size": 100},
           {"workspace_id": "A"}, {"workspace_id": "B"}, {"workspace_id": 1}]


@pytest.mark.parametrize("who, visible", [("viewer_a", {"A"}), ("manager_a", {"A"}),
                                          ("manager_b", {"B"}), ("outsider", set())])
@pytest.mark.parametrize("params", FILTERS, ids=str)
def test_lists_never_include_foreign_jobs(tenants, who, visible, params):
    ids = {"A": tenants.a["id"], "B": tenants.b["id"]}
    params = {k: ids.get(v, v) for k, v in params.items()}
    response = tenants.who[who].request("GET", "/api/v1/training/jobs",
                                        params={"page_size": 100, **params})
    assert response.status_code == 200
    data = response.json()["data"]
    allowed = {ids[name] for name in visible}
    assert {item["workspace_id"] for item in data["items"]} <= allowed
    listed = {item["job_id"] for item in data["items"]}
    assert (tenants.job_a in listed) == ("A" in visible and params.get("workspace_id") in
                                         (None, ids["A"]))
    assert tenants.job_b not in listed or "B" in visible
    if not visible:
        assert data["pagination"]["total"] == 0


def test_the_admin_lists_every_workspace(tenants):
    admin = tenants.who["admin"]
    for job_id, workspace in ((tenants.job_a, tenants.a), (tenants.job_b, tenants.b)):
        items = admin.request("GET", "/api/v1/training/jobs",
                              params={"workspace_id": workspace["id"]}).json()["data"]["items"]
        assert job_id in {item["job_id"] for item in items}


def test_submitting_needs_the_manager_role_in_that_workspace(tenants, api):
    viewer = tenants.who["viewer_a"].submit(**PARKED)
    assert viewer.status_code == 403 and "submitting jobs needs the manager role" in \
        viewer.json()["message"]
    foreign = tenants.who["manager_b"].submit(workspace_id=tenants.a["id"], **PARKED)
    missing = tenants.who["manager_b"].submit(workspace_id=10**12, **PARKED)
    for response in (foreign, missing):
        assert response.status_code == 400 and "that you belong to" in \
            response.json()["errors"]["workspace_id"][0]
    nowhere = tenants.who["outsider"].submit(**PARKED)
    assert nowhere.status_code == 400
    assert "you manage no workspace" in nowhere.json()["errors"]["workspace_id"][0]


def test_a_manager_of_two_workspaces_must_name_one(stack, api, tenants):
    both = make_user(api, stack, "two-teams", {tenants.a["id"]: "manager",
                                               tenants.b["id"]: "manager"})
    response = both.submit(**PARKED)
    assert response.status_code == 400
    assert "several" in response.json()["errors"]["workspace_id"][0]
    job_id = both.submit_ok(workspace_id=tenants.b["id"], **PARKED)
    assert both.job(job_id)["workspace_id"] == tenants.b["id"]


def test_removing_a_member_hides_the_workspace_at_once(stack, api, tenants):
    member = make_user(api, stack, "leaving", {tenants.a["id"]: "viewer"})
    assert _call(member, "GET", tenants.job_a, "").status_code == 200
    removed = api.request("DELETE",
                          f"/api/v1/admin/workspaces/{tenants.a['id']}/members/{member.user_id}")
    assert removed.status_code == 204
    assert _call(member, "GET", tenants.job_a, "").status_code == 404


def test_the_admin_list_covers_every_admin_route_of_the_app(settings, migrated):
    """A new admin route missing from ADMIN_ROUTES would go unchecked by the test below."""
    from app import create_app

    shapes = {(method, re.sub(r"/(1|h1)(/|$)", r"/<>\2", path)) for method, path in ADMIN_ROUTES}
    routes = {(method, re.sub(r"<[^>]+>", "<>", rule.rule))
              for rule in create_app(settings).url_map.iter_rules()
              if rule.rule.startswith("/api/v1/admin/")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes == shapes


@pytest.mark.parametrize("who", ["viewer_a", "manager_a", "outsider"])
def test_admin_routes_are_403_for_everybody_else(tenants, who):
    client = tenants.who[who]
    for method, path in ADMIN_ROUTES:
        response = client.request(method, path, json={})
        assert response.status_code == 403, (method, path, response.text)
        assert "admin role" in response.json()["message"]


def test_workspace_limits_are_clear_4xx_not_a_silent_queue(api):
    workspace = make_workspace(api, "limited", max_gpus_per_job=1, max_queued_jobs=2)
    too_big = api.submit(workspace_id=workspace["id"], gpu=2)
    assert too_big.status_code == 400
    assert "at most 1 GPUs per job" in too_big.json()["errors"]["gpu"][0]
    first = api.submit_ok(workspace_id=workspace["id"], **PARKED)
    api.submit_ok(workspace_id=workspace["id"], **PARKED)
    full = api.submit(workspace_id=workspace["id"], **PARKED)
    assert full.status_code == 429 and int(full.headers["Retry-After"]) > 0
    assert "2 queued jobs, its limit" in full.json()["message"]
    api.request("POST", f"/api/v1/training/jobs/{first}/stop")
    api.submit_ok(workspace_id=workspace["id"], **PARKED)
