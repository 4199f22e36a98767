"""The worker side's Redis client, one per process and URL."""
from __future__ import annotations

from functools import lru_cache

import redis as redis_lib


@lru_cache(maxsize=4)
def worker_redis(url: str) -> redis_lib.Redis:
    # socket_timeout above any blocking call we make; events and claims are short commands.
    return redis_lib.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=5,
                                    decode_responses=True)
