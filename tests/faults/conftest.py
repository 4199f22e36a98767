"""A second stack for fault injection: short lease and visibility timeout, its own Redis server
and database, a scheduler and two one-slot cpu hosts that tests kill and restart."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.conftest import ADMIN_PASSWORD
from tests.support.client import ApiClient
from tests.support.cluster import Cluster, cluster_env
from tests.support.databases import fresh_database
from tests.support.redis_server import RedisServer

#: Scaled timings: what takes 30 s in production takes 3 s here.
LEASE_SECONDS, REAPER_SECONDS, VISIBILITY_TIMEOUT = 3, 0.5, 4
FIGURES: dict[str, object] = {}


class FaultStack(Cluster):
    def pool_child(self, name: str) -> int:
        main = self.services[name].proc.pid
        children = [int(p.parent.name) for p in Path("/proc").glob("[0-9]*/stat")
                    if _ppid(p) == main]
        assert len(children) == 1, children
        return children[0]


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
        yield cluster_env(
            fault_redis.url, url, tmp_path_factory.mktemp("fault-var"), script_root,
            TRAINQ_POOLS="cpu=0", TRAINQ_STOP_GRACE_SECONDS="2",
            TRAINQ_LEASE_SECONDS=str(LEASE_SECONDS), TRAINQ_HEARTBEAT_SECONDS="0.5",
            TRAINQ_REAPER_INTERVAL_SECONDS=str(REAPER_SECONDS),
            TRAINQ_VISIBILITY_TIMEOUT_SECONDS=str(VISIBILITY_TIMEOUT),
            TRAINQ_CONSUMER_CLAIM_IDLE_SECONDS="2", TRAINQ_RETRY_INTERVAL_SECONDS="0")


@pytest.fixture(scope="session")
def fault_stack(fault_env, tmp_path_factory):
    stack = FaultStack(fault_env, tmp_path_factory.mktemp("fault-logs"))
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
