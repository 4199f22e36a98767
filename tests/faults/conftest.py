"""A second stack for fault injection: short lease and visibility timeout, its own Redis server
and database, a scheduler and two one-slot cpu hosts that tests kill and restart."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import ADMIN_PASSWORD, WEBHOOK_SECRET
from tests.support.client import ApiClient
from tests.support.databases import fresh_database
from tests.support.redis_server import RedisServer
from tests.support.stack import (Service, free_port, start_api, start_scheduler, start_worker,
                                 trainq)

#: Scaled timings: what takes 30 s in production takes 3 s here.
LEASE_SECONDS, REAPER_SECONDS, VISIBILITY_TIMEOUT = 3, 0.5, 4
FIGURES: dict[str, object] = {}


class FaultStack:
    def __init__(self, env: dict, logs: Path, base_url: str):
        self.env, self.logs, self.base_url = env, logs, base_url
        self.services: dict[str, Service] = {}

    def start(self, name: str) -> Service:
        if name == "api":
            service = start_api(self.env, self.logs, self.base_url)
        elif name == "consumer":
            service = Service("consumer", trainq("consumer"), self.env, self.logs).start()
        elif name.startswith("scheduler"):
            service = start_scheduler(self.env, self.logs, name)
        else:
            service = start_worker("cpu", "", name, self.env, self.logs)
        self.services[name] = service
        return service

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Kill the service's whole process group, as a crashed host would."""
        proc = self.services[name].proc
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)

    def pool_child(self, name: str) -> int:
        main = self.services[name].proc.pid
        children = [int(p.parent.name) for p in Path("/proc").glob("[0-9]*/stat")
                    if _ppid(p) == main]
        assert len(children) == 1, children
        return children[0]

    def stop_all(self) -> None:
        for service in reversed(list(self.services.values())):
            service.stop()


def _ppid(stat_file: Path) -> int | None:
    try:
        return int(stat_file.read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


@pytest.fixture(scope="session")
def fault_redis(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("fault-redis")).start()
    yield server
    server.kill()


@pytest.fixture(scope="session")
def fault_env(tmp_path_factory, fault_redis, script_root):
    with fresh_database(tmp_path_factory.mktemp("fault-db")) as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINQ_")}
        env.update({
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
            "TRAINQ_DATABASE_URL": url, "TRAINQ_REDIS_URL": fault_redis.url,
            "TRAINQ_VAR_DIR": str(tmp_path_factory.mktemp("fault-var")),
            "TRAINQ_SCRIPT_ROOT": str(script_root), "TRAINQ_POOLS": "cpu=0",
            "TRAINQ_SECRET_KEY": "f" * 64, "TRAINQ_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "TRAINQ_API_PORT": str(free_port()), "TRAINQ_STOP_GRACE_SECONDS": "2",
            "TRAINQ_LEASE_SECONDS": str(LEASE_SECONDS), "TRAINQ_HEARTBEAT_SECONDS": "0.5",
            "TRAINQ_REAPER_INTERVAL_SECONDS": str(REAPER_SECONDS),
            "TRAINQ_VISIBILITY_TIMEOUT_SECONDS": str(VISIBILITY_TIMEOUT),
            "TRAINQ_CONSUMER_CLAIM_IDLE_SECONDS": "2", "TRAINQ_RETRY_INTERVAL_SECONDS": "0",
            "TRAINQ_WEBHOOK_SECRET": WEBHOOK_SECRET, "TRAINQ_NOTIFY_ALLOW_CIDRS": "127.0.0.0/8",
        })
        result = subprocess.run(trainq("db", "upgrade"), env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        yield env


@pytest.fixture(scope="session")
def fault_stack(fault_env, tmp_path_factory):
    stack = FaultStack(fault_env, tmp_path_factory.mktemp("fault-logs"),
                       f"http://127.0.0.1:{fault_env['TRAINQ_API_PORT']}")
    try:
        for name in ("api", "consumer", "scheduler", "w1", "w2"):
            stack.start(name)
        yield stack
    finally:
        stack.stop_all()
        figures = Path(fault_env["TRAINQ_VAR_DIR"]) / "fault-figures.json"
        figures.write_text(json.dumps(FIGURES, indent=2))
        print(f"\nfault-injection figures ({figures}):\n{json.dumps(FIGURES, indent=2)}")


@pytest.fixture(scope="session")
def fault_api(fault_stack) -> ApiClient:
    return ApiClient.login(fault_stack.base_url, "admin", ADMIN_PASSWORD)


@pytest.fixture
def marker(tmp_path) -> Path:
    path = tmp_path / "runs.log"
    path.touch()
    return path


def runs(marker: Path, job_id: str, kind: str = "start") -> list[int]:
    """Attempt numbers recorded by marked_run.py for the job, in order."""
    return [int(line.split()[2]) for line in marker.read_text().splitlines()
            if line.split()[:2] == [kind, job_id]]


def wait_until(predicate, timeout: float = 30, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")
