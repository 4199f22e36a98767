"""A workspace's GPU quota: set through the admin API and the CLI, and the GPUs its jobs hold."""
from __future__ import annotations

import uuid

import pytest

from app import create_app
from app.services.workspaces import GPU_QUOTA_ERROR
from config.settings import Settings
from tests.test_cli import _run
from tests.test_tenancy import make_user, make_workspace

pytestmark = pytest.mark.e2e
WORKSPACES = "/api/v1/admin/workspaces"


def _url(workspace: dict) -> str:
    return f"{WORKSPACES}/{workspace['id']}"


def _listed(api, workspace_id: int) -> dict:
    """The workspace as the list shows it (walking the pages: other tests add workspaces)."""
    page = 1
    while True:
        data = api.request("GET", WORKSPACES,
                           params={"page": page, "page_size": 100}).json()["data"]
        found = [w for w in data["items"] if w["id"] == workspace_id]
        if found or not data["items"]:
            return found[0]
        page += 1


def test_the_quota_is_created_changed_and_cleared(api):
    workspace = make_workspace(api, "quota", gpu_quota=4)
    assert (workspace["gpu_quota"], workspace["gpus_in_use"]) == (4, 0)
    assert api.request("GET", _url(workspace)).json()["data"]["gpu_quota"] == 4
    patched = api.request("PATCH", _url(workspace), json={"gpu_quota": 0})
    assert patched.status_code == 200 and patched.json()["data"]["gpu_quota"] == 0
    cleared = api.request("PATCH", _url(workspace), json={"gpu_quota": None})
    assert cleared.status_code == 200 and cleared.json()["data"]["gpu_quota"] is None
    assert _listed(api, workspace["id"])["gpu_quota"] is None
    assert make_workspace(api, "no-quota")["gpu_quota"] is None  # the default: no quota


@pytest.mark.parametrize("value", [-1, "2", True, 1.5, 100_001, "none"])
def test_a_quota_that_is_not_a_gpu_count_is_refused_per_field(api, value):
    created = api.request("POST", WORKSPACES,
                          json={"name": f"bad-{uuid.uuid4().hex[:8]}", "gpu_quota": value})
    assert created.status_code == 400 and list(created.json()["errors"]) == ["gpu_quota"]
    workspace = make_workspace(api, "bad-patch", gpu_quota=3)
    patched = api.request("PATCH", _url(workspace), json={"gpu_quota": value})
    assert patched.status_code == 400 and list(patched.json()["errors"]) == ["gpu_quota"]
    assert api.request("GET", _url(workspace)).json()["data"]["gpu_quota"] == 3


def test_a_negative_quota_says_what_is_allowed(api):
    response = api.request("POST", WORKSPACES, json={"name": "neg-quota", "gpu_quota": -1})
    assert response.json()["errors"] == {"gpu_quota": [GPU_QUOTA_ERROR]}


def test_gpus_in_use_counts_the_gpus_of_training_jobs(api, stack, release_dir):
    workspace = make_workspace(api, "in-use", gpu_quota=1)
    member = make_user(api, stack, "in-use", {workspace["id"]: "manager"})
    go = release_dir / "go"
    job_id = member.submit_ok(script_path="wait_for_file.py", pool="gpu", gpu=1,
                              args=[str(go), "60"])
    try:
        member.wait_status(job_id, "training")
        assert api.request("GET", _url(workspace)).json()["data"]["gpus_in_use"] == 1
        assert _listed(api, workspace["id"])["gpus_in_use"] == 1
    finally:
        go.touch()
    assert member.wait_terminal(job_id)["status"] == "completed"
    assert api.request("GET", _url(workspace)).json()["data"]["gpus_in_use"] == 0


def test_the_document_explains_the_quota():
    document = create_app(Settings.from_env({"TRAINQ_SECRET_KEY": "k" * 40})
                          ).test_client().get("/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    for name in ("WorkspaceCreate", "WorkspaceUpdate", "Workspace"):
        field = schemas[name]["properties"]["gpu_quota"]
        assert "borrowed work is the first to be preempted" in field["description"]
    assert schemas["WorkspaceCreate"]["properties"]["gpu_quota"]["minimum"] == 0
    assert "gpus_in_use" in schemas["Workspace"]["properties"]


def _cli_line(env, name: str) -> str:
    listed = _run(env, "workspaces", "list")
    assert listed.returncode == 0, listed.stderr
    return next(line for line in listed.stdout.splitlines() if line.split("\t")[1] == name)


def test_the_cli_sets_and_clears_the_quota(stack_env, migrated):
    name = f"cli-quota-{uuid.uuid4().hex[:8]}"
    created = _run(stack_env, "workspaces", "create", name, "--gpu-quota", "4")
    assert created.returncode == 0 and f"created workspace {name!r}" in created.stdout
    assert "\tgpu_quota=4\tgpus_in_use=0" in _cli_line(stack_env, name)
    changed = _run(stack_env, "workspaces", "set-quota", name, "8")
    assert changed.returncode == 0 and "a quota of 8 GPUs" in changed.stdout
    assert "\tgpu_quota=8\t" in _cli_line(stack_env, name)
    cleared = _run(stack_env, "workspaces", "set-quota", name, "none")
    assert cleared.returncode == 0 and "no quota" in cleared.stdout
    assert "\tgpu_quota=None\t" in _cli_line(stack_env, name)


def test_the_cli_refuses_an_unknown_workspace_or_a_bad_quota(stack_env, migrated):
    name = f"cli-bad-{uuid.uuid4().hex[:8]}"
    assert _run(stack_env, "workspaces", "create", name).returncode == 0
    unknown = _run(stack_env, "workspaces", "set-quota", "no-such-workspace", "2")
    assert unknown.returncode == 1 and "no workspace 'no-such-workspace'" in unknown.stderr
    for args in (("set-quota", name, "-1"), ("create", f"{name}-x", "--gpu-quota", "-1")):
        refused = _run(stack_env, "workspaces", *args)
        assert refused.returncode == 1 and GPU_QUOTA_ERROR in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
    assert "\tgpu_quota=None\t" in _cli_line(stack_env, name)
    assert _run(stack_env, "workspaces", "set-quota", name, "two").returncode == 2
