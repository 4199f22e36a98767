"""The admin API: users, workspaces, memberships; and GET /api/v1/me for everybody."""
from __future__ import annotations

import uuid

import pytest

from tests.support.client import ApiClient

pytestmark = pytest.mark.e2e


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_user_lifecycle(api, stack):
    name = _name("carol")
    created = api.request("POST", "/api/v1/admin/users",
                          json={"username": name, "password": "carol-password"})
    assert created.status_code == 201
    user = created.json()["data"]
    assert (user["username"], user["is_admin"], user["workspaces"]) == (name, False, [])
    again = api.request("POST", "/api/v1/admin/users",
                        json={"username": name, "password": "carol-password"})
    assert again.status_code == 409 and "already exists" in again.json()["message"]
    fetched = api.request("GET", f"/api/v1/admin/users/{user['id']}").json()["data"]
    assert fetched["username"] == name
    listed = api.request("GET", "/api/v1/admin/users", params={"page_size": 100}).json()["data"]
    assert listed["pagination"]["total"] >= 2
    promoted = api.request("PATCH", f"/api/v1/admin/users/{user['id']}", json={"is_admin": True})
    assert promoted.json()["data"]["is_admin"] is True
    carol = ApiClient.login(stack["base_url"], name, "carol-password")
    assert carol.request("GET", "/api/v1/admin/users").status_code == 200
    assert api.request("DELETE", f"/api/v1/admin/users/{user['id']}").status_code == 204
    assert api.request("GET", f"/api/v1/admin/users/{user['id']}").status_code == 404


@pytest.mark.parametrize("body, field", [
    ({"username": "", "password": "long-enough"}, "username"),
    ({"username": "has space", "password": "long-enough"}, "username"),
    ({"username": "-dash", "password": "long-enough"}, "username"),
    ({"username": "x" * 101, "password": "long-enough"}, "username"),
    ({"username": "ok-name", "password": "short"}, "password"),
    ({"username": "ok-name", "password": "long-enough", "is_admin": "true"}, "is_admin"),
    ({"username": "ok-name", "password": "long-enough", "is_admin": 1}, "is_admin"),
    ({"username": "ok-name", "password": "long-enough", "token_version": 9}, "token_version"),
    ({"username": "ok-name", "password": "long-enough", "id": 1}, "id"),
])
def test_user_bodies_are_strict(api, body, field):
    response = api.request("POST", "/api/v1/admin/users", json=body)
    assert response.status_code == 400 and field in response.json()["errors"]


def test_an_admin_cannot_lock_themselves_out(api):
    me = api.request("GET", "/api/v1/me").json()["data"]
    assert me["is_admin"] is True
    assert api.request("DELETE", f"/api/v1/admin/users/{me['id']}").status_code == 409
    demote = api.request("PATCH", f"/api/v1/admin/users/{me['id']}", json={"is_admin": False})
    assert demote.status_code == 409 and "yourself" in demote.json()["message"]


def test_workspace_lifecycle_and_members(api, stack):
    name = _name("vision")
    created = api.request("POST", "/api/v1/admin/workspaces", json={"name": name})
    assert created.status_code == 201
    workspace = created.json()["data"]
    assert workspace["max_queued_jobs"] == 1000 and workspace["max_gpus_per_job"] is None
    assert api.request("POST", "/api/v1/admin/workspaces",
                       json={"name": name}).status_code == 409
    wid = workspace["id"]
    patched = api.request("PATCH", f"/api/v1/admin/workspaces/{wid}",
                          json={"max_gpus_per_job": 4, "description": "the vision team"})
    assert patched.json()["data"]["max_gpus_per_job"] == 4
    user = api.request("POST", "/api/v1/admin/users",
                       json={"username": _name("dave"), "password": "dave-password"}).json()["data"]
    member_url = f"/api/v1/admin/workspaces/{wid}/members/{user['id']}"
    assert api.request("PUT", member_url, json={"role": "owner"}).status_code == 400
    assert api.request("PUT", member_url, json={"role": "viewer"}).status_code == 200
    assert api.request("PUT", member_url, json={"role": "manager"}).json()["data"]["role"] == \
        "manager"
    members = api.request("GET", f"/api/v1/admin/workspaces/{wid}/members").json()["data"]
    assert members["members"] == [{"user_id": user["id"], "username": user["username"],
                                   "role": "manager"}]
    dave = ApiClient.login(stack["base_url"], user["username"], "dave-password")
    me = dave.request("GET", "/api/v1/me").json()["data"]
    assert me["workspaces"] == [{"workspace_id": wid, "name": name, "role": "manager"}]
    job_id = dave.submit_ok(pool="idle", gpu=0)
    refused = api.request("DELETE", f"/api/v1/admin/workspaces/{wid}")
    assert refused.status_code == 409 and "still has 1 jobs" in refused.json()["message"]
    dave.request("POST", f"/api/v1/training/jobs/{job_id}/stop")
    assert dave.request("DELETE", f"/api/v1/training/jobs/{job_id}").status_code == 204
    assert api.request("DELETE", member_url).status_code == 204
    assert api.request("DELETE", member_url).status_code == 404
    assert api.request("DELETE", f"/api/v1/admin/workspaces/{wid}").status_code == 204
    assert api.request("GET", f"/api/v1/admin/workspaces/{wid}").status_code == 404


@pytest.mark.parametrize("body, field", [
    ({"name": ""}, "name"), ({"name": "a b"}, "name"),
    ({"name": "ok", "max_gpus_per_job": -1}, "max_gpus_per_job"),
    ({"name": "ok", "max_gpus_per_job": "2"}, "max_gpus_per_job"),
    ({"name": "ok", "max_queued_jobs": 0}, "max_queued_jobs"),
    ({"name": "ok", "max_queued_jobs": True}, "max_queued_jobs"),
    ({"name": "ok", "id": 5}, "id"),
])
def test_workspace_bodies_are_strict(api, body, field):
    response = api.request("POST", "/api/v1/admin/workspaces", json=body)
    assert response.status_code == 400 and field in response.json()["errors"]


def test_ids_out_of_range_are_404_not_errors(api):
    for path in ("/api/v1/admin/users/99999999999", "/api/v1/admin/workspaces/" + "9" * 30,
                 "/api/v1/admin/users/-1"):
        assert api.request("GET", path).status_code == 404
