"""The trainq command: users, schema, and the worker's argument checks."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import requests

from config.settings import SettingsError
from tests.support.stack import trainq


def _run(env, *args, stdin=None):
    return subprocess.run(trainq(*args), env=env, input=stdin, capture_output=True, text=True,
                          timeout=60)


def test_users_create_then_log_in(stack_env, stack):
    result = _run(stack_env, "users", "create", "alice", "--password-file", "-",
                  stdin="correct horse battery\n")
    assert result.returncode == 0 and "created user 'alice'" in result.stdout
    token = requests.post(stack["base_url"] + "/auth/token", timeout=10,
                          json={"username": "alice", "password": "correct horse battery"})
    assert token.status_code == 200
    again = _run(stack_env, "users", "create", "alice", "--password-file", "-", stdin="x" * 12)
    assert again.returncode == 1 and "already exists" in again.stderr


def test_short_password_is_refused(stack_env, migrated):
    result = _run(stack_env, "users", "create", "bob", "--password-file", "-", stdin="short\n")
    assert result.returncode == 1 and "at least 8 characters" in result.stderr


def test_db_upgrade_is_repeatable(stack_env, migrated):
    result = _run(stack_env, "db", "upgrade")
    assert result.returncode == 0 and "up to date" in result.stdout


def test_worker_refuses_an_unknown_pool_a_bad_name_or_slot_count(stack_env):
    unknown = _run(stack_env, "worker", "--pool", "tpu")
    assert unknown.returncode == 2 and "unknown pool 'tpu'" in unknown.stderr
    bad_name = _run(stack_env, "worker", "--pool", "gpu", "--gpus", "0,1", "--name", "a:b")
    assert bad_name.returncode == 2 and "is not a host name trainq can use" in bad_name.stderr
    no_slots = _run(stack_env, "worker", "--pool", "gpu", "--gpus", "0-7", "--slots", "0")
    assert no_slots.returncode == 2 and "--slots must be 1 or more" in no_slots.stderr
    bad_cpus = _run(stack_env, "worker", "--pool", "cpu", "--cpus", "a-b")
    assert bad_cpus.returncode != 0 and "--cpus takes a CPU list" in bad_cpus.stderr
    bad_gpus = _run(stack_env, "worker", "--pool", "gpu", "--gpus", "0-x")
    assert bad_gpus.returncode == 2 and "--gpus takes GPU indexes, ranges" in bad_gpus.stderr


@pytest.mark.skipif(Path("/dev/nvidiactl").exists(), reason="this host has an NVIDIA driver")
def test_worker_gpus_all_without_a_driver_says_what_to_give_instead(stack_env):
    result = _run(stack_env, "worker", "--pool", "gpu", "--gpus", "all")
    assert result.returncode == 2
    assert "--gpus all needs an NVIDIA driver" in result.stderr and "--gpus 0-7" in result.stderr


def test_gpu_lists_take_ranges_and_uuids():
    from workers.host import parse_gpus

    assert parse_gpus("0-3,6") == ("0", "1", "2", "3", "6")
    assert parse_gpus("GPU-1a2b,MIG-3c") == ("GPU-1a2b", "MIG-3c")
    assert parse_gpus("") == ()
    for bad in ("3-1", "0,0", "x"):
        with pytest.raises(SettingsError):
            parse_gpus(bad)


def _login(stack, name, password):
    return requests.post(stack["base_url"] + "/auth/token", timeout=10,
                         json={"username": name, "password": password})


def test_users_passwd_and_delete(stack_env, stack):
    assert _run(stack_env, "users", "create", "erin", "--password-file", "-",
                stdin="erin-first-password\n").returncode == 0
    token = _login(stack, "erin", "erin-first-password").json()["access_token"]
    changed = _run(stack_env, "users", "passwd", "erin", "--password-file", "-",
                   stdin="erin-second-password\n")
    assert changed.returncode == 0 and "no longer work" in changed.stdout
    me = requests.get(stack["base_url"] + "/api/v1/me", timeout=10,
                      headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401
    assert _login(stack, "erin", "erin-second-password").status_code == 200
    listed = _run(stack_env, "users", "list")
    assert listed.returncode == 0 and "erin" in listed.stdout
    assert _run(stack_env, "users", "delete", "erin").returncode == 0
    assert _login(stack, "erin", "erin-second-password").status_code == 401
    missing = _run(stack_env, "users", "delete", "erin")
    assert missing.returncode == 1 and "no user 'erin'" in missing.stderr


def test_workspaces_and_members(stack_env, stack):
    created = _run(stack_env, "workspaces", "create", "nlp", "--max-gpus-per-job", "2")
    assert created.returncode == 0 and "created workspace 'nlp'" in created.stdout
    assert _run(stack_env, "workspaces", "create", "nlp").returncode == 1
    listed = _run(stack_env, "workspaces", "list")
    assert "nlp" in listed.stdout and "max_gpus_per_job=2" in listed.stdout
    _run(stack_env, "users", "create", "frank", "--password-file", "-", stdin="frank-password\n")
    added = _run(stack_env, "members", "add", "nlp", "frank", "--role", "manager")
    assert added.returncode == 0 and "is a manager of workspace 'nlp'" in added.stdout
    token = _login(stack, "frank", "frank-password").json()["access_token"]
    me = requests.get(stack["base_url"] + "/api/v1/me", timeout=10,
                      headers={"Authorization": f"Bearer {token}"}).json()["data"]
    assert [w["name"] for w in me["workspaces"]] == ["nlp"]
    assert _run(stack_env, "members", "remove", "nlp", "frank").returncode == 0
    again = _run(stack_env, "members", "remove", "nlp", "frank")
    assert again.returncode == 1 and "not a member" in again.stderr
