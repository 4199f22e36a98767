"""Start Flower on the trainq Celery app, showing every trainq queue in its Broker view."""
from __future__ import annotations

import sys

from celery.bin.celery import main as celery_main

from config.celery import declared_queues
from config.settings import Settings


def _show_every_queue(settings: Settings) -> None:
    """Flower lists only queues that an online worker consumes, so the queue of a pool whose
    workers are all busy elsewhere or down (where jobs pile up) would be invisible."""
    from flower.views import BaseHandler

    declared = [q.name for q in declared_queues(settings)]
    original = BaseHandler.get_active_queue_names

    def every_queue(self):
        return sorted(set(original(self)) | set(declared))

    BaseHandler.get_active_queue_names = every_queue


def flower_argv(settings: Settings) -> list[str]:
    return ["celery", "-A", "workers.celery_app", "flower",
            f"--address={settings.flower_host}", f"--port={settings.flower_port}",
            f"--basic-auth={settings.flower_username}:{settings.flower_password}",
            "--purge_offline_workers=3600", "--max_tasks=20000"]


def run_flower(settings: Settings) -> None:
    _show_every_queue(settings)
    sys.argv = flower_argv(settings)  # celery's click entry point reads sys.argv
    celery_main()
