"""`trainq up` (what `make run` starts): everything comes up, trains, and Ctrl-C stops it all."""
from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import shutil
import socket

import pytest
import redis as redis_lib
import requests

from tests.conftest import REDIS_URL, ROOT
from tests.support.passes import only_on
from tests.faults.conftest import wait_until
from tests.support.client import ApiClient
from tests.support.stack import free_port

# `trainq up` starts its own SQLite database whichever database the suite was given.
pytestmark = [pytest.mark.e2e, only_on("sqlite", "trainq up always runs on its own SQLite")]


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            if requests.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise AssertionError(log.read_text()[-3000:])


def _descendants(root: int) -> set[int]:
    """Every process below `root`, by walking parent pids."""
    parents = {}
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat_file.parent.name)] = int(stat_file.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            continue
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _own_redis_db() -> str:
    """A Redis database of its own: the session stack's workers must not take this job."""
    url = os.environ.get("TRAINQ_TEST_SPARE_REDIS_URL", REDIS_URL.rsplit("/", 1)[0] + "/13")
    redis_lib.Redis.from_url(url).flushdb()
    return url


def _up_env(tmp_path: Path, flower_port: int | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINQ_")}
    env.update(TRAINQ_VAR_DIR=str(tmp_path / "var"), TRAINQ_API_PORT=str(free_port()),
               TRAINQ_FLOWER_PORT=str(flower_port or free_port()),
               TRAINQ_REDIS_URL=_own_redis_db(),
               TRAINQ_SCRIPT_ROOT=str(ROOT / "scripts" / "examples"), PYTHONPATH=str(ROOT))
    env.update(extra)
    return env


def _start_up(tmp_path: Path, env: dict[str, str]) -> tuple[subprocess.Popen, Path]:
    log = tmp_path / "up.log"
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "up"], env=env, cwd=tmp_path,
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    return proc, log


def _processes_of(var_dir: Path) -> set[int]:
    """Live processes started for the stack that uses `var_dir` (found by their environment)."""
    marker = f"TRAINQ_VAR_DIR={var_dir}".encode()
    found = set()
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker in environ.read_bytes().split(b"\0"):
                found.add(int(environ.parent.name))
        except OSError:
            continue
    return found - {os.getpid()}


def _kill_everything(proc: subprocess.Popen) -> None:
    for pid in _descendants(proc.pid) | {proc.pid}:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


FAKE_NVML = '''"""NVML as a machine with two GPUs answers it (for a machine that has none)."""
def nvmlInit(): pass
def nvmlShutdown(): pass
def nvmlDeviceGetCount(): return 2
def nvmlDeviceGetHandleByIndex(index): return index
def nvmlDeviceGetUUID(handle): return f"GPU-0000000{handle}-aaaa-bbbb-cccc-000000000000"
def nvmlDeviceGetName(handle): return b"NVIDIA H100 80GB HBM3"
class _Memory: total = 80 * 2**30
def nvmlDeviceGetMemoryInfo(handle): return _Memory()
'''


def _with_two_fake_gpus(tmp_path: Path, env: dict[str, str]) -> dict[str, str]:
    """Put a stand-in pynvml first on the path of `trainq up` and of every service it starts."""
    fake = tmp_path / "fake-nvml"
    fake.mkdir()
    (fake / "pynvml.py").write_text(FAKE_NVML)
    return {**env, "PYTHONPATH": f"{fake}{os.pathsep}{env['PYTHONPATH']}"}


def _hosts(api: ApiClient) -> dict[str, dict]:
    page = api.request("GET", "/api/v1/admin/workers").json()["data"]
    return {host["name"]: host for host in page["items"]}


def test_trainq_up_runs_the_whole_system_and_stops_cleanly(tmp_path):
    """With (stand-in) NVIDIA GPUs: a gpu worker host beside the cpu one, each takes its jobs."""
    env = _with_two_fake_gpus(tmp_path, _up_env(tmp_path))
    flower_port = env["TRAINQ_FLOWER_PORT"]
    proc, log = _start_up(tmp_path, env)
    try:
        url = f"http://127.0.0.1:{env['TRAINQ_API_PORT']}"
        _wait_healthy(url, proc, log)
        password_file = tmp_path / "var" / "admin-password"
        assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
        assert str(password_file) in log.read_text()
        api = ApiClient.login(url, "admin", password_file.read_text().strip())
        assert "GPUs           2 found by NVML:" in log.read_text()
        assert "1: NVIDIA H100 80GB HBM3, 80 GiB, GPU-00000001-" in log.read_text()
        assert "served by the worker host 'gpu-local' in pool 'gpu'" in log.read_text()
        wait_until(lambda: len(_hosts(api)) == 2, timeout=30)
        hosts = _hosts(api)
        assert hosts["gpu-local"]["pool"] == "gpu" and len(hosts["gpu-local"]["gpus"]) == 2
        job_id = api.submit_ok(args=["--epochs", "2"])
        gpu_job = api.submit_ok(args=["--epochs", "1"], gpu=1)
        assert api.wait_terminal(job_id, timeout=120)["status"] == "completed"
        finished = api.wait_terminal(gpu_job, timeout=120)
        assert finished["status"] == "completed" and finished["pool"] == "gpu", finished
        flower = requests.get(f"http://127.0.0.1:{flower_port}/api/workers", timeout=10,
                              auth=("admin", password_file.read_text().strip()))
        assert flower.status_code == 200
        members = _descendants(proc.pid)
        assert len(members) >= 6  # api (+ its workers), consumer, 2 workers (+ children), flower
        proc.send_signal(signal.SIGINT)  # what Ctrl-C does
        assert proc.wait(timeout=40) == 0
        time.sleep(0.5)
        assert not {pid for pid in members if Path(f"/proc/{pid}").exists()}
    finally:
        _kill_everything(proc)


def _service_pid(up: subprocess.Popen, marker: str) -> int:
    """The pid of the `trainq up` child whose command line contains `marker`."""
    for pid in _descendants(up.pid):
        try:
            parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            continue
        if parent == up.pid and marker in cmdline:
            return pid
    raise AssertionError(f"no service running {marker!r}")


def _healthy(url: str) -> bool:
    return requests.get(url + "/healthz", timeout=5).status_code == 200


def test_a_crashed_service_is_restarted_while_the_others_keep_serving(tmp_path):
    """kill -9 of the worker (the OOM killer) mid-job, then of the consumer mid-flood: each is
    restarted, the API answers throughout, the job is retried by lease, nothing is lost."""
    scripts = tmp_path / "scripts"
    shutil.copytree(ROOT / "tests" / "scripts", scripts)
    env = _up_env(tmp_path, TRAINQ_SCRIPT_ROOT=str(scripts), TRAINQ_LEASE_SECONDS="3",
                  TRAINQ_HEARTBEAT_SECONDS="1", TRAINQ_REAPER_INTERVAL_SECONDS="0.5",
                  TRAINQ_RETRY_INTERVAL_SECONDS="0")
    proc, log = _start_up(tmp_path, env)
    try:
        url = f"http://127.0.0.1:{env['TRAINQ_API_PORT']}"
        _wait_healthy(url, proc, log)
        api = ApiClient.login(url, "admin", (tmp_path / "var" / "admin-password").read_text().strip())
        assert "GPUs           none: NVML is not available" in log.read_text()  # no NVIDIA here
        release = tmp_path / "release"
        job_id = api.submit_ok(script_path="wait_for_file.py", args=[str(release), "120"])
        api.wait_status(job_id, "training", timeout=60)
        os.kill(_service_pid(proc, "celery"), signal.SIGKILL)
        wait_until(lambda: "worker killed by signal SIGKILL" in log.read_text(), timeout=10)
        assert _healthy(url)
        wait_until(lambda: api.job(job_id)["attempt"] == 2 and
                   api.job(job_id)["status"] == "training", timeout=60)
        release.touch()
        assert api.wait_terminal(job_id, timeout=60)["status"] == "completed"

        flood = api.submit_ok(script_path="flood.py", args=["2000"])
        api.wait_status(flood, ["training", "completed"], timeout=60)
        os.kill(_service_pid(proc, "consumer"), signal.SIGKILL)
        wait_until(lambda: "consumer killed by signal SIGKILL" in log.read_text(), timeout=10)
        assert _healthy(url)
        assert api.wait_terminal(flood, timeout=120)["status"] == "completed"
        metrics = api.request("GET", f"/api/v1/training/jobs/{flood}/metrics").json()["data"]
        assert [m["epoch"] for m in metrics["metrics"]] == list(range(1, 2001))
        assert "restarting worker" in log.read_text() and "restarting consumer" in log.read_text()

        members = _descendants(proc.pid)
        proc.send_signal(signal.SIGTERM)  # what a service manager does
        assert proc.wait(timeout=40) == 0
        time.sleep(0.5)
        assert not {pid for pid in members if Path(f"/proc/{pid}").exists()}
    finally:
        _kill_everything(proc)


def test_a_service_that_keeps_dying_at_start_up_ends_trainq_up_saying_why(tmp_path):
    with socket.socket() as taken:  # Flower's port is in use: restarting cannot fix that
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = _up_env(tmp_path, flower_port=taken.getsockname()[1])
        proc, log = _start_up(tmp_path, env)
        try:
            assert proc.wait(timeout=120) == 1
            text = log.read_text()
            assert "flower keeps dying at start-up (5 times in a row" in text, text[-3000:]
            assert "Address already in use" in text.rsplit("keeps dying", 1)[1], text[-3000:]
            assert "restarting flower" in text
            time.sleep(0.5)
            assert not _processes_of(tmp_path / "var")
        finally:
            _kill_everything(proc)
