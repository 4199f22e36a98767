"""Start Flower on the trainq Celery app, showing every host's queue in its Broker view."""
from __future__ import annotations

import sys

from celery.bin.celery import main as celery_main

from redis.exceptions import RedisError

from config.celery import declared_queues
from config.keys import HOSTS_SET
from config.queues import host_queue
from config.settings import Settings
from workers.connections import worker_redis


def _show_every_queue(settings: Settings) -> None:
    """Flower lists only queues that an online worker consumes, so the queue of a host that is
    down (where the work placed on it waits until the scheduler takes it back) would be
    invisible: list every registered host's queue too."""
    from flower.views import BaseHandler

    declared = [q.name for q in declared_queues(settings)]
    original = BaseHandler.get_active_queue_names

    def every_queue(self):
        return sorted(set(original(self)) | set(declared) | set(_host_queues(settings)))

    BaseHandler.get_active_queue_names = every_queue


def _host_queues(settings: Settings) -> list[str]:
    try:
        names = worker_redis(settings.redis_url).smembers(HOSTS_SET)
    except RedisError:
        return []
    return [host_queue(name) for name in names]


def flower_argv(settings: Settings) -> list[str]:
    return ["celery", "-A", "workers.celery_app", "flower",
            f"--address={settings.flower_host}", f"--port={settings.flower_port}",
            f"--basic-auth={settings.flower_username}:{settings.flower_password}",
            "--purge_offline_workers=3600", "--max_tasks=20000"]


def run_flower(settings: Settings) -> None:
    _show_every_queue(settings)
    sys.argv = flower_argv(settings)  # celery's click entry point reads sys.argv
    celery_main()
