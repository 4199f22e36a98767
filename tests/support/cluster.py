"""A private stack of trainq's real processes (its own Redis server and database) for tests that
kill, restart and count: fault injection, the live placement runs."""
from __future__ import annotations

import os
import signal
import subprocess
from contextlib import contextmanager
from pathlib import Path

from tests.support.stack import (Service, free_port, start_api, start_scheduler, start_worker,
                                 trainq)

ROOT = Path(__file__).resolve().parents[2]


def cluster_env(redis_url: str, database_url: str, var: Path, script_root: Path,
                **settings: str) -> dict[str, str]:
    """The environment of every process of the stack: TRAINQ_* from nothing but the arguments."""
    from tests.conftest import ADMIN_PASSWORD, WEBHOOK_SECRET

    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINQ_")}
    env.update({
        "PYTHONPATH": str(ROOT), "TRAINQ_DATABASE_URL": database_url,
        "TRAINQ_REDIS_URL": redis_url, "TRAINQ_VAR_DIR": str(var),
        "TRAINQ_SCRIPT_ROOT": str(script_root), "TRAINQ_SECRET_KEY": "f" * 64,
        "TRAINQ_ADMIN_PASSWORD": ADMIN_PASSWORD, "TRAINQ_API_PORT": str(free_port()),
        "TRAINQ_WEBHOOK_SECRET": WEBHOOK_SECRET, "TRAINQ_NOTIFY_ALLOW_CIDRS": "127.0.0.0/8",
        **settings})
    result = subprocess.run(trainq("db", "upgrade"), env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return env


class Cluster:
    def __init__(self, env: dict, logs: Path):
        self.env, self.logs = env, logs
        self.base_url = f"http://127.0.0.1:{env['TRAINQ_API_PORT']}"
        self.services: dict[str, Service] = {}
        #: host name -> (pool, GPU ids, extra `trainq worker` arguments)
        self.hosts: dict[str, tuple[str, str, tuple[str, ...]]] = {}

    def add_host(self, name: str, pool: str = "cpu", gpus: str = "", *extra: str) -> Service:
        self.hosts[name] = (pool, gpus, extra)
        return self.start(name)

    def start(self, name: str) -> Service:
        if name == "api":
            service = start_api(self.env, self.logs, self.base_url)
        elif name == "consumer":
            service = Service("consumer", trainq("consumer"), self.env, self.logs).start()
        elif name.startswith("scheduler"):
            expect = "leading with epoch" if name == "scheduler" else "standing by"
            service = start_scheduler(self.env, self.logs, name, expect)
        else:
            pool, gpus, extra = self.hosts.get(name, ("cpu", "", ()))
            service = start_worker(pool, gpus, name, self.env, self.logs, *extra)
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

    def stop_all(self) -> None:
        for service in reversed(list(self.services.values())):
            service.stop()


@contextmanager
def private_cluster(tmp_path_factory, script_root: Path, prefix: str,
                    hosts: dict[str, tuple[str, str, tuple[str, ...]]], **settings: str):
    """A Cluster with its own redis-server and database: API, consumer, scheduler, then one
    worker per host (name -> pool, GPU ids, extra `trainq worker` arguments). `.redis` is a
    client of its Redis."""
    from tests.support.databases import fresh_database
    from tests.support.redis_server import RedisServer

    redis = RedisServer(tmp_path_factory.mktemp(f"{prefix}-redis")).start()
    with fresh_database(tmp_path_factory.mktemp(f"{prefix}-db")) as url:
        env = cluster_env(redis.url, url, tmp_path_factory.mktemp(f"{prefix}-var"), script_root,
                          **settings)
        stack = Cluster(env, tmp_path_factory.mktemp(f"{prefix}-logs"))
        try:
            for name in ("api", "consumer", "scheduler"):
                stack.start(name)
            for host, (pool, gpus, extra) in hosts.items():
                stack.add_host(host, pool, gpus, *extra)
            stack.redis = redis.client()
            yield stack
        finally:
            stack.stop_all()
            redis.kill()
