"""`trainq up` (what `make run` starts): everything comes up, trains, and Ctrl-C stops it all."""
from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis as redis_lib
import requests

from tests.conftest import REDIS_URL, ROOT
from tests.support.client import ApiClient
from tests.support.stack import free_port

pytestmark = pytest.mark.e2e


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


def test_trainq_up_runs_the_whole_system_and_stops_cleanly(tmp_path):
    api_port, flower_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINQ_")}
    env.update(TRAINQ_VAR_DIR=str(tmp_path / "var"), TRAINQ_API_PORT=str(api_port),
               TRAINQ_FLOWER_PORT=str(flower_port), TRAINQ_REDIS_URL=_own_redis_db(),
               TRAINQ_SCRIPT_ROOT=str(ROOT / "scripts" / "examples"), PYTHONPATH=str(ROOT))
    log = tmp_path / "up.log"
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "up"], env=env, cwd=tmp_path,
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        url = f"http://127.0.0.1:{api_port}"
        _wait_healthy(url, proc, log)
        password_file = tmp_path / "var" / "admin-password"
        assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
        assert str(password_file) in log.read_text()
        api = ApiClient.login(url, "admin", password_file.read_text().strip())
        job_id = api.submit_ok(args=["--epochs", "2"])
        assert api.wait_terminal(job_id, timeout=120)["status"] == "completed"
        flower = requests.get(f"http://127.0.0.1:{flower_port}/api/workers", timeout=10,
                              auth=("admin", password_file.read_text().strip()))
        assert flower.status_code == 200
        members = _descendants(proc.pid)
        assert len(members) >= 5  # api (+ its workers), consumer, worker (+ pool child), flower
        proc.send_signal(signal.SIGINT)  # what Ctrl-C does
        assert proc.wait(timeout=40) == 0
        time.sleep(0.5)
        assert not {pid for pid in members if Path(f"/proc/{pid}").exists()}
    finally:
        for pid in _descendants(proc.pid) | {proc.pid}:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
