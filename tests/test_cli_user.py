"""The user commands (`trainq login`, `submit`, `ls`, `logs -f`, …) as a person runs them: the
real command in a subprocess, against the real stack, with a config folder of its own."""
from __future__ import annotations

import json
import os
import pty
import signal
import stat
import subprocess
import threading
from pathlib import Path

import pytest
import yaml

from tests.conftest import ADMIN_PASSWORD, ROOT
from tests.faults.conftest import wait_until
from tests.support.stack import free_port, trainq

pytestmark = pytest.mark.e2e


def _env(home: Path, **extra: str) -> dict[str, str]:
    """A user's shell: no server settings, its own config folder, no colour preference."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("TRAINQ_") and k not in ("NO_COLOR", "XDG_CONFIG_HOME")}
    env.update(PYTHONPATH=str(ROOT), HOME=str(home), XDG_CONFIG_HOME=str(home / "config"),
               **extra)
    return env


def _run(env, *args, stdin: str | None = None, timeout: float = 60):
    return subprocess.run(trainq(*args), env=env, input=stdin, capture_output=True, text=True,
                          timeout=timeout)


def _ok(env, *args, **kwargs) -> subprocess.CompletedProcess:
    result = _run(env, *args, **kwargs)
    assert result.returncode == 0, f"trainq {' '.join(args)}: {result.stderr}"
    assert "Traceback" not in result.stderr
    return result


def _failed(env, *args, **kwargs) -> str:
    """The one stderr line of a command that must fail with status 1 (no traceback)."""
    result = _run(env, *args, **kwargs)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and result.stderr.startswith("trainq: ")
    return result.stderr


@pytest.fixture(scope="module")
def url(stack) -> str:
    return stack["base_url"]


@pytest.fixture(scope="module")
def user(url, tmp_path_factory) -> dict[str, str]:
    """The environment of a user logged in as admin (the token in its config folder)."""
    env = _env(tmp_path_factory.mktemp("user"))
    _ok(env, "login", url, "-u", "admin", "--password-file", "-", stdin=ADMIN_PASSWORD + "\n")
    return env


@pytest.fixture(scope="module")
def finished_job(api) -> str:
    job_id = api.submit_ok(name="cli-finished", script_path="sleep_for.py", args=["0"])
    assert api.wait_terminal(job_id)["status"] == "completed"
    return job_id


def test_login_keeps_the_token_for_the_owner_only_and_a_wrong_password_fails(url, tmp_path):
    env = _env(tmp_path)
    wrong = _failed(env, "login", url, "-u", "admin", "--password-file", "-", stdin="nope\n")
    assert f"could not log in to {url} as 'admin': wrong username or password" in wrong
    stored = tmp_path / "config" / "trainq" / "credentials.json"
    assert not stored.exists()
    password_file = tmp_path / "password"
    password_file.write_text(ADMIN_PASSWORD + "\n")
    done = _ok(env, "login", url, "--username", "admin", "--password-file", str(password_file))
    assert f"logged in to {url} as 'admin'" in done.stdout and str(stored) in done.stdout
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stat.S_IMODE(stored.parent.stat().st_mode) == 0o700
    assert json.loads(stored.read_text())["url"] == url
    assert _ok(env, "ls", "-o", "json").stdout.startswith("{")
    assert _ok(env, "logout").stdout.strip() == "logged out" and not stored.exists()


def test_without_a_login_or_a_server_the_errors_say_what_to_do(url, user, tmp_path):
    nobody = _failed(_env(tmp_path, TRAINQ_URL=url), "ls")
    assert f"not logged in to {url}: run `trainq login {url}`, or set TRAINQ_TOKEN" in nobody
    elsewhere = f"http://127.0.0.1:{free_port()}"
    # The stored token is for `url`: it is never sent to another address.
    other = _failed({**user, "TRAINQ_URL": elsewhere}, "ls")
    assert f"not logged in to {elsewhere} (you are logged in to {url})" in other
    down = _failed({**user, "TRAINQ_URL": elsewhere, "TRAINQ_TOKEN": "x"}, "ls")
    assert f"cannot reach the trainq API at {elsewhere} (connection refused)" in down
    assert "Set TRAINQ_URL" in down


def test_trainq_url_and_token_override_the_stored_login(url, user, api, tmp_path):
    token = api.http.headers["Authorization"].split()[1]
    fresh = _env(tmp_path, TRAINQ_URL=url, TRAINQ_TOKEN=token)
    assert "items" in json.loads(_ok(fresh, "ls", "-o", "json").stdout)
    bad = _failed({**user, "TRAINQ_TOKEN": "not-a-token"}, "ls")
    assert "the access token is not valid" in bad and f"run `trainq login {url}`" in bad


def test_submit_with_flags_and_wait_exits_0_when_the_job_completes(user, api):
    result = _ok(user, "submit", "--script", "sleep_for.py", "--name", "cli-flags",
                 "--memory", "512Mi", "-e", "GREETING=hi", "--wait", "--", "0.1")
    job_id, status = result.stdout.split()[:2]
    assert status == "queued" and "done" in result.stdout.splitlines()
    assert f"trainq: {job_id} completed" in result.stderr
    job = api.job(job_id)
    assert (job["name"], job["args"], job["memory"], job["envs"]) == \
        ("cli-flags", ["0.1"], 512 << 20, {"GREETING": "hi"})


def test_submit_wait_exits_1_when_the_script_fails(user):
    result = _run(user, "submit", "--script", "fail.py", "--wait", "--", "3")
    job_id = result.stdout.split()[0]
    assert result.returncode == 1, result.stderr
    assert "about to fail" in result.stdout and "learning rate must be positive" in result.stdout
    # The script's own traceback is in its log and in the job's failure message, nowhere else.
    assert f"trainq: {job_id} failed: the script exited with code 3: " in result.stderr


def test_submit_from_a_yaml_file_with_a_flag_overriding_it(user, api, tmp_path):
    job_file = tmp_path / "job.yaml"
    job_file.write_text(yaml.safe_dump({
        "name": "cli-yaml", "framework": "pytorch", "script_path": "sleep_for.py", "args": ["0"],
        "cpu": 1, "memory": "256Mi", "gpu": 0, "priority": 7, "envs": {"A": "b"}}))
    job_id = _ok(user, "submit", "-f", str(job_file), "--priority", "8", "-q").stdout.strip()
    job = api.wait_terminal(job_id)
    assert (job["name"], job["priority"], job["memory"], job["envs"], job["status"]) == \
        ("cli-yaml", 8, 256 << 20, {"A": "b"}, "completed")
    job_file.write_text("name: bad\nscript_path: sleep_for.py\ncolour: red\n")
    refused = _failed(user, "submit", "-f", str(job_file))
    assert refused.startswith("trainq: the request is invalid")
    assert "\n  colour: unknown field; accepted fields are:" in refused


@pytest.mark.parametrize("command", ["ls", "show", "queue", "workers"])
def test_every_view_prints_as_table_json_and_yaml(user, finished_job, command):
    args = [command] + ([finished_job] if command in ("show", "queue") else [])
    as_json = json.loads(_ok(user, *args, "-o", "json").stdout)
    as_yaml = yaml.safe_load(_ok(user, *args, "-o", "yaml").stdout)
    assert _steady(as_yaml) == _steady(as_json)
    table = _ok(user, *args).stdout
    assert "\033[" not in table  # no colour on a pipe
    expected = {"ls": ("JOB ID", "STATUS", finished_job),
                "show": (finished_job, "completed", "ATTEMPT", "sleep_for.py 0"),
                "queue": ("not_queued", "the job is completed"),
                "workers": ("NAME", "STATE", "cpu-test", "gpu-test")}[command]
    assert all(text in table for text in expected), table
    if command == "ls":
        assert finished_job in [job["job_id"] for job in as_json["items"]]
    if command == "workers":
        assert {"cpu-test", "gpu-test"} <= {host["name"] for host in as_json}


def _steady(data):
    """The data without what changes between two calls (a host's heartbeat age)."""
    if isinstance(data, list):
        return [{k: v for k, v in host.items() if k != "heartbeat_age_seconds"} for host in data]
    return data


def test_a_table_on_a_terminal_has_colour_unless_no_color(user, finished_job):
    def on_terminal(env) -> str:
        leader, follower = pty.openpty()
        proc = subprocess.Popen(trainq("show", finished_job), env=env, stdout=follower,
                                stderr=subprocess.PIPE)
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO once the command has exited
                break
            if not chunk:
                break
            chunks.append(chunk)
        os.close(leader)
        assert proc.wait(30) == 0
        return b"".join(chunks).decode()

    assert "\033[32mcompleted" in on_terminal(user)
    assert "\033[" not in on_terminal({**user, "NO_COLOR": "1"})


class _Lines:
    """Reads a running command's stdout in a thread, so a test can wait for a line."""

    def __init__(self, proc: subprocess.Popen):
        self.proc, self.lines = proc, []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, prefix: str) -> None:
        wait_until(lambda: any(line.startswith(prefix) for line in self.lines), timeout=60)


def _follow(env, job_id: str) -> tuple[subprocess.Popen, _Lines]:
    # SIGINT as a terminal has it: a test run started in the background (`cmd &` in a script)
    # inherits SIGINT ignored, and Python then leaves it ignored.
    proc = subprocess.Popen(trainq("logs", "-f", job_id), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    return proc, _Lines(proc)


def test_logs_follow_ends_with_the_job_and_logs_prints_the_tail(user, api, release_dir):
    job_id = api.submit_ok(name="cli-follow", script_path="wait_for_file.py",
                           args=[str(release_dir / "go"), "60"])
    proc, out = _follow(user, job_id)
    out.wait_for(f"started {job_id}")
    (release_dir / "go").touch()
    assert proc.wait(60) == 0
    assert out.lines == [f"started {job_id} attempt 1", "released"]
    assert f"trainq: {job_id} completed" in proc.stderr.read()
    assert _ok(user, "logs", job_id).stdout.splitlines() == out.lines
    assert _ok(user, "logs", job_id, "--tail", "1").stdout == "released\n"


def test_ctrl_c_detaches_then_stop_and_rm(user, api, release_dir):
    job_id = api.submit_ok(name="cli-stop", script_path="wait_for_file.py",
                           args=[str(release_dir / "never"), "60"])
    proc, out = _follow(user, job_id)
    out.wait_for(f"started {job_id}")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 130
    stderr = proc.stderr.read()
    assert "Traceback" not in stderr and f"stopped following {job_id}; the job goes on" in stderr
    assert api.job(job_id)["status"] == "training"
    assert f"job {job_id} is training; stop it first" in _failed(user, "rm", job_id)
    stopping = _ok(user, "stop", job_id).stdout
    assert stopping.startswith(f"{job_id}: training job stopping")
    assert api.wait_terminal(job_id)["status"] == "cancelled"
    assert _ok(user, "rm", job_id).stdout.startswith(f"deleted {job_id}")
    assert f"no training job {job_id!r}" in _failed(user, "show", job_id)


def test_drain_and_undrain_over_http(user):
    def state() -> str:
        hosts = json.loads(_ok(user, "workers", "-o", "json").stdout)
        return next(host["state"] for host in hosts if host["name"] == "gpu-test")

    try:
        drained = _ok(user, "drain", "gpu-test").stdout
        assert drained.startswith("host 'gpu-test' is draining (state: draining")
        assert state() == "draining"
        assert json.loads(_ok(user, "undrain", "gpu-test", "-o", "json").stdout)["state"] == \
            "online"
        assert state() == "online"
    finally:
        _run(user, "undrain", "gpu-test")
    assert "no host 'no-such-host' has registered" in _failed(user, "drain", "no-such-host")
