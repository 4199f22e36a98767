"""The worker hosts through the admin API and `trainq workers`: list, drain, undrain, offline."""
from __future__ import annotations

import subprocess
import time

import pytest
import schemathesis
from schemathesis.specs.openapi.checks import response_schema_conformance

from app import create_app
from config.keys import HOSTS_SET, host_jobs_key, host_key
from tests.conftest import ADMIN_PASSWORD, FAKE_GPU_ID
from tests.faults.conftest import wait_until
from tests.support.stack import free_port, start_worker, trainq
from tests.test_tenancy import make_user

pytestmark = pytest.mark.e2e
WORKERS = "/api/v1/admin/workers"


def _hosts(api) -> dict[str, dict]:
    response = api.request("GET", WORKERS, params={"page_size": 100})
    assert response.status_code == 200, response.text
    return {host["name"]: host for host in response.json()["data"]["items"]}


def _set_draining(api, name: str, draining: bool) -> dict:
    response = api.request("POST", f"{WORKERS}/{name}/{'drain' if draining else 'undrain'}")
    assert response.status_code == 200, response.text
    return response.json()["data"]


def _run(env, *args):
    return subprocess.run(trainq(*args), env=env, capture_output=True, text=True, timeout=60)


def _stays(api, job_id: str, status: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert api.job(job_id)["status"] == status
        time.sleep(0.2)


def test_the_list_shows_both_hosts_online_with_their_gpus(api):
    response = api.request("GET", WORKERS)
    body = response.json()
    assert response.status_code == 200 and body["code"] == 0 and body["message"] == "success"
    assert body["data"]["pagination"]["total"] >= 2
    names = [host["name"] for host in body["data"]["items"]]
    assert names == sorted(names)
    hosts = _hosts(api)
    cpu, gpu = hosts["cpu-test"], hosts["gpu-test"]
    assert (cpu["pool"], cpu["state"], cpu["gpus_total"], cpu["gpus"], cpu["slots"]) == \
        ("cpu", "online", 0, [], 1)
    assert (gpu["pool"], gpu["state"], gpu["gpus_total"], gpu["gpus"], gpu["slots"]) == \
        ("gpu", "online", 1, [FAKE_GPU_ID], 1)
    assert 0 <= gpu["heartbeat_age_seconds"] <= 5 and gpu["draining"] is False


def test_a_drained_host_finishes_its_job_and_starts_nothing_new(api, release_dir):
    running = api.submit_ok(script_path="wait_for_file.py", gpu=1,
                            args=[str(release_dir / "go"), "60"])
    try:
        api.wait_status(running, "training")
        busy = _hosts(api)["gpu-test"]
        assert running in busy["running_jobs"]
        assert (busy["gpus_free"], busy["free_gpus"], busy["free_slots"]) == (0, [], 0)
        drained = _set_draining(api, "gpu-test", True)
        assert drained["state"] == "draining" and running in drained["running_jobs"]
        assert _set_draining(api, "gpu-test", True)["state"] == "draining"  # idempotent
        waiting = api.submit_ok(script_path="wait_for_file.py", gpu=1,
                                args=[str(release_dir / "go"), "60"])
        (release_dir / "go").touch()
        assert api.wait_terminal(running)["status"] == "completed"
        wait_until(lambda: _hosts(api)["gpu-test"]["gpus_free"] == 1)
        _stays(api, waiting, "queued", seconds=3)  # free, but draining: nothing is placed there
        assert _set_draining(api, "gpu-test", False)["state"] == "online"
        assert api.wait_terminal(waiting)["status"] == "completed"
    finally:
        (release_dir / "go").touch()
        _set_draining(api, "gpu-test", False)


def test_the_answers_conform_to_the_openapi_document(api, stack):
    document = schemathesis.openapi.from_url(stack["base_url"] + "/openapi.json")
    calls = [("GET", WORKERS, {}), ("POST", WORKERS + "/{name}/drain", {"name": "gpu-test"}),
             ("POST", WORKERS + "/{name}/undrain", {"name": "gpu-test"})]
    try:
        for method, path, parameters in calls:
            response = document[path][method].Case(path_parameters=parameters).call_and_validate(
                headers=dict(api.http.headers), checks=[response_schema_conformance])
            assert response.status_code == 200, response.text
    finally:
        _set_draining(api, "gpu-test", False)


def test_only_admins_see_or_drain_hosts(api, stack):
    member = make_user(api, stack, "hosts", {})
    assert member.request("GET", WORKERS).status_code == 403
    assert member.request("POST", f"{WORKERS}/gpu-test/drain").status_code == 403
    assert _hosts(api)["gpu-test"]["state"] == "online"


@pytest.mark.parametrize("action", ["drain", "undrain"])
def test_an_unknown_host_is_404_and_says_how_to_list_them(api, redis_client, action):
    response = api.request("POST", f"{WORKERS}/no-such-host/{action}")
    assert response.status_code == 404
    assert "GET /api/v1/admin/workers" in response.json()["message"]
    assert not redis_client.exists(host_key("no-such-host"))  # a typo creates no host


def test_redis_down_is_503(settings, migrated):
    client = create_app(settings.with_changes(
        redis_url=f"redis://127.0.0.1:{free_port()}/0")).test_client()
    token = client.post("/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD}
                        ).get_json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    for method, path in (("GET", WORKERS), ("POST", f"{WORKERS}/gpu-test/drain")):
        response = client.open(path, method=method, headers=headers)
        assert response.status_code == 503 and response.headers["Retry-After"]
        assert "not answering" in response.get_json()["message"]


def test_the_cli_lists_drains_and_undrains(api, stack_env):
    listed = _run(stack_env, "workers", "list")
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()
    assert header.split()[:3] == ["NAME", "POOL", "STATE"]
    gpu_row = next(row.split() for row in rows if row.startswith("gpu-test "))
    assert gpu_row[1:5] == ["gpu", "online", "1/1", "1/1"]
    try:
        drained = _run(stack_env, "workers", "drain", "gpu-test")
        assert drained.returncode == 0 and "draining" in drained.stdout
        assert _hosts(api)["gpu-test"]["state"] == "draining"
        assert "draining" in _run(stack_env, "workers", "list").stdout
    finally:
        undrained = _run(stack_env, "workers", "undrain", "gpu-test")
    assert undrained.returncode == 0 and _hosts(api)["gpu-test"]["state"] == "online"
    missing = _run(stack_env, "workers", "drain", "no-such-host")
    assert missing.returncode == 1 and missing.stdout == ""
    assert missing.stderr.count("\n") == 1 and "trainq workers list" in missing.stderr


def test_a_cleanly_stopped_worker_is_offline_without_a_heartbeat_age(
        api, stack, stack_env, redis_client):
    service = start_worker("idle", "0,1", "extra-host", stack_env, stack["logs"])
    try:
        extra = _hosts(api)["extra-host"]
        assert (extra["state"], extra["gpus_total"], extra["gpus_free"]) == ("online", 2, 2)
        service.stop()
        offline = wait_until(lambda: _offline(_hosts(api)["extra-host"]))
        assert offline["heartbeat_age_seconds"] is None
    finally:
        service.stop()
        redis_client.delete(host_key("extra-host"), host_jobs_key("extra-host"))
        redis_client.srem(HOSTS_SET, "extra-host")


def _offline(host: dict) -> dict | None:
    return host if host["state"] == "offline" else None
