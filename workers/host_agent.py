"""The host's heartbeat, run by the Celery worker's main process: registers the host (pool, GPUs,
slots) every heartbeat period while the worker is up, and takes it offline when it stops."""
from __future__ import annotations

import logging
import threading

from celery import signals
from redis.exceptions import RedisError

from workers.connections import worker_redis
from workers.host import Host
from workers.hosts import go_offline, register

log = logging.getLogger(__name__)


class HostAgent:
    def __init__(self, host: Host, settings):
        self.host, self.settings = host, settings
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._beat, name="trainq-host-heartbeat",
                                       daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        try:
            go_offline(worker_redis(self.settings.redis_url), self.host.name)
        except RedisError as exc:
            log.warning("could not mark host %s offline (%s); its lease will", self.host.name, exc)

    def _beat(self) -> None:
        announced = False
        while not self.stopping.is_set():
            try:
                register(worker_redis(self.settings.redis_url), self.host)
                if not announced:
                    log.info("host %s registered: pool %s, GPUs [%s], %d slot(s), "
                             "environments %s", self.host.name, self.host.pool,
                             ",".join(self.host.gpus), self.host.slots,
                             ", ".join(f"{k}={v}" for k, v in sorted(self.host.envs.items())))
                    announced = True
            except RedisError as exc:  # keep beating: the registry comes back with Redis
                log.warning("host heartbeat failed: %s", exc)
            self.stopping.wait(self.settings.heartbeat_seconds)


def install(app) -> None:
    """Connect the agent to this Celery app's worker start and stop."""
    agents: list[HostAgent] = []

    @signals.worker_ready.connect(weak=False)
    def _start(sender=None, **_):
        if sender is not None and sender.app is not app:
            return
        agent = HostAgent(Host.from_env(), app.trainq_settings)
        agents.append(agent)
        agent.start()

    @signals.worker_shutting_down.connect(weak=False)
    def _stop(**_):
        for agent in agents:
            agent.stop()
