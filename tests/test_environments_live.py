"""Runtime environments on a live cluster of two CPU hosts: "envb" declares `alt` (a wrapper
that marks the environment, then runs this Python), "enva" only its own. A job asking for alt
runs on envb under the wrapper, though the name order alone would pick enva; a job asking for
an environment no host has waits, and its queue reason says which and how to add it; the API
refuses a malformed env_id, and the detail and the host list show the environments."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.conftest import ADMIN_PASSWORD
from tests.faults.conftest import wait_until
from tests.support.client import ApiClient
from tests.support.cluster import private_cluster

JOBS = "/api/v1/training/jobs"


@pytest.fixture(scope="module")
def wrapper(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("alt-env") / "python"
    path.write_text(f'#!/bin/sh\nexport TRAINQ_TEST_ENV_MARK=alt\nexec "{sys.executable}" "$@"\n')
    path.chmod(0o755)
    return path


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, script_root, wrapper):
    hosts = {"enva": ("cpu", "", ()), "envb": ("cpu", "", ("--env", f"alt={wrapper}"))}
    with private_cluster(tmp_path_factory, script_root, "envs", hosts, TRAINQ_POOLS="cpu=0",
                         TRAINQ_HEARTBEAT_SECONDS="0.5") as stack:
        yield stack


@pytest.fixture(scope="module")
def client(cluster) -> ApiClient:
    return ApiClient.login(cluster.base_url, "admin", ADMIN_PASSWORD)


def _logs(client: ApiClient, job_id: str) -> list[str]:
    response = client.request("GET", f"{JOBS}/{job_id}/logs")
    assert response.status_code == 200, response.text
    return response.json()["data"]["logs"]


def test_a_job_runs_on_the_host_with_its_environment_under_its_python(client):
    alt = client.submit_ok(script_path="print_env.py", env_id="alt")
    plain = client.submit_ok(script_path="print_env.py")
    for job_id, host, mark in ((alt, "envb", "alt"), (plain, "enva", "none")):
        job = client.wait_terminal(job_id)
        assert job["status"] == "completed", job["failure_message"]
        assert job["attempts"][0]["worker"] == host
        assert job["env_id"] == ("alt" if job_id == alt else "default")
        lines = wait_until(lambda: len(_logs(client, job_id)) >= 2 and _logs(client, job_id),
                           timeout=30, interval=0.2)
        assert f"env-mark={mark}" in lines and f"executable={sys.executable}" in lines, lines


def test_a_job_no_host_can_run_waits_and_its_queue_reason_says_why(client):
    job_id = client.submit_ok(script_path="print_env.py", env_id="missing")

    def reason():
        response = client.request("GET", f"{JOBS}/{job_id}/queue")
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        return data if data["reason"] == "no_environment" else None

    data = wait_until(reason, timeout=30, interval=0.2)
    assert 'runtime environment "missing"' in data["message"]
    assert "--env missing=/path/to/python" in data["message"] and data["position"] == 1
    assert client.job(job_id)["status"] == "queued"
    assert client.request("POST", f"{JOBS}/{job_id}/stop").status_code == 200


@pytest.mark.parametrize("env_id", ["bad name", "-x", "x" * 65, 5])
def test_a_malformed_env_id_is_refused(client, env_id):
    response = client.submit(script_path="print_env.py", env_id=env_id)
    assert response.status_code == 400, response.text
    assert "env_id" in response.text


def test_the_host_list_shows_each_hosts_environments(client):
    response = client.request("GET", "/api/v1/admin/workers")
    assert response.status_code == 200, response.text
    envs = {host["name"]: host["envs"] for host in response.json()["data"]["items"]}
    assert envs == {"enva": ["default"], "envb": ["alt", "default"]}
