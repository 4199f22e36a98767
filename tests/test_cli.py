"""The trainq command: users, schema, and the worker's argument checks."""
from __future__ import annotations

import subprocess

import requests

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


def test_worker_refuses_a_pool_or_gpu_count_that_does_not_match(stack_env):
    unknown = _run(stack_env, "worker", "--pool", "tpu")
    assert unknown.returncode == 2 and "unknown pool 'tpu'" in unknown.stderr
    wrong = _run(stack_env, "worker", "--pool", "gpu", "--gpus", "0,1")
    assert wrong.returncode == 2 and "have 1 GPUs" in wrong.stderr
    bad_cpus = _run(stack_env, "worker", "--pool", "cpu", "--cpus", "a-b")
    assert bad_cpus.returncode != 0 and "--cpus takes a CPU list" in bad_cpus.stderr
