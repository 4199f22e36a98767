"""Worker hosts as an operator sees them (the admin API and `trainq workers`): list, drain."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any

import redis as redis_lib

from app.errors import NotFound, ServiceUnavailable
from app.services.job_queries import Page
from workers.allocations import wake_scheduler
from workers.hosts import HostRecord, read_host, read_hosts, set_draining


def list_hosts(runtime) -> list[dict[str, Any]]:
    """Every registered host, by name."""
    with _registry(runtime) as redis:
        now, records = read_hosts(redis)
    return [describe(record, now, runtime.settings.lease_seconds) for record in records]


def host_page(runtime, *, page: int, page_size: int) -> Page:
    # A cluster has tens of hosts, not thousands: reading them all to cut a page costs nothing.
    hosts = list_hosts(runtime)
    start = (page - 1) * page_size
    return Page(hosts[start:start + page_size], page, page_size, len(hosts))


def drain(runtime, name: str, draining: bool = True) -> dict[str, Any]:
    """Start (or stop) draining: while draining, the host's running jobs finish and nothing new
    is placed there. Repeating it changes nothing."""
    with _registry(runtime) as redis:
        if not set_draining(redis, name, draining):
            raise _unknown(name)
        if not draining:
            wake_scheduler(redis)  # its queued jobs may fit now: place them without a tick's wait
        return _described(runtime, redis, name)


def describe(record: HostRecord, now: int, fresh_seconds: float) -> dict[str, Any]:
    free_gpus = list(record.free_gpus)
    return {"name": record.name, "pool": record.pool, "addr": record.addr or None,
            "state": record.state(now, fresh_seconds).value, "draining": record.draining,
            "gpus": list(record.gpus), "free_gpus": free_gpus, "gpus_total": len(record.gpus),
            "gpus_free": len(free_gpus), "slots": record.slots, "free_slots": record.free_slots,
            "running_jobs": _running_jobs(record), "envs": list(record.envs),
            # seen is 0 once the worker stopped cleanly: there is no heartbeat to age.
            "heartbeat_age_seconds": now - record.seen if record.seen else None}


def _described(runtime, redis, name: str) -> dict[str, Any]:
    record = read_host(redis, name)
    if record is None:
        raise _unknown(name)
    return describe(record, int(redis.time()[0]), runtime.settings.lease_seconds)


def _running_jobs(record: HostRecord) -> list[str]:
    # Members are "<job>|<attempt>"; an operator asks which jobs, not which attempts.
    return sorted({member.rpartition("|")[0] for member in record.jobs})


def _unknown(name: str) -> NotFound:
    return NotFound(f"no host {name!r} has registered; list the hosts with GET "
                    "/api/v1/admin/workers or `trainq workers list`")


@contextmanager
def _registry(runtime):
    """The host registry's Redis; any Redis failure inside is a 503 that says what to do."""
    try:
        yield runtime.redis
    except redis_lib.RedisError as exc:
        # Not the URL: it may carry Redis' password, and admins read this message in logs too.
        raise ServiceUnavailable(f"the host registry (Redis) is not answering ({exc}); try "
                                 "again when it is back") from None
