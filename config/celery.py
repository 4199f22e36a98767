"""Celery settings, identical in every process (API, workers, Flower): see research notes on
visibility timeouts — the shortest timeout among all broker clients wins."""
from __future__ import annotations

from typing import Any

from kombu import Exchange, Queue

from config.settings import Settings

#: Queue for short control-plane tasks; no training worker listens to it.
CONTROL_QUEUE = "trainq.control"


def visibility_timeout(settings: Settings) -> int:
    """Longer than any job may run (+1 day) unless set: Redis re-delivers unacked messages after
    it, and the claim in Redis is what keeps such a re-delivery from running a second copy."""
    return settings.visibility_timeout_seconds


def broker_transport_options(settings: Settings) -> dict[str, Any]:
    return {
        "visibility_timeout": visibility_timeout(settings),
        "queue_order_strategy": "priority",  # honour -Q order: highest priority queue first
        "socket_timeout": 30,  # a publish on a half-open socket must not block forever
        "socket_connect_timeout": max(1, int(settings.publish_timeout_seconds)),
        "socket_keepalive": True,
        "health_check_interval": 25,
        "retry_on_timeout": False,
        # kombu scans for expired unacked messages every interval x throttle (100 s by default);
        # a short visibility timeout (tests) is only meaningful with a matching scan.
        "unacked_restore_interval": min(10, max(1, visibility_timeout(settings) // 5)),
        "unacked_restore_throttle": 1 if visibility_timeout(settings) < 600 else 10,
    }


def declared_queue(name: str) -> Queue:
    return Queue(name, Exchange(name, type="direct"), routing_key=name)


def declared_queues(settings: Settings) -> list[Queue]:
    """Host queues are not listed: each worker declares its own (`-Q host.<name>`), and the
    scheduler declares it again with every message it sends there (see publishing)."""
    return [declared_queue(CONTROL_QUEUE)]


def celery_config(settings: Settings) -> dict[str, Any]:
    return {
        "broker_url": settings.redis_url,
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": settings.publish_timeout_seconds,
        "broker_pool_acquire_timeout": settings.publish_timeout_seconds,
        "broker_transport_options": broker_transport_options(settings),
        "result_backend": None,  # the database is the record of every job, not Celery
        "task_ignore_result": True,
        # Long jobs: ack when done, never hold a second message; a host runs as many jobs at
        # once as it has slots (its -c), and the scheduler never sends it more than that.
        "task_acks_late": True,
        "task_acks_on_failure": True,
        "task_acks_on_timeout": True,
        "task_reject_on_worker_lost": False,  # would loop forever on a job that kills its worker
        "worker_cancel_long_running_tasks_on_connection_loss": False,  # claims fence duplicates
        "worker_prefetch_multiplier": 1,
        "worker_disable_prefetch": True,
        "worker_concurrency": 1,  # `trainq worker` passes -c <slots>
        # No recycling of the pool process per job: it only supervises the script (which has its
        # own process), and a fresh pool process costs 1-5 s before the slot takes the next job.
        "worker_max_tasks_per_child": None,
        "worker_send_task_events": True,
        "task_send_sent_event": True,
        "task_queues": declared_queues(settings),
        "task_default_queue": CONTROL_QUEUE,
        "task_create_missing_queues": True,  # host queues are named at run time
        "task_default_priority": None,  # priority is the queue, never a message priority
        "task_serializer": "json",
        "accept_content": ["json"],
        "worker_hijack_root_logger": False,
        "worker_redirect_stdouts": False,
        "enable_utc": True,
    }
