"""The process-wide handles a command needs (settings, database, broker, Redis), built lazily."""
from __future__ import annotations

from functools import cached_property

import redis

from app.db import Database
from config.settings import Settings


class Runtime:
    """Built once per process; nothing connects until first use."""

    def __init__(self, settings: Settings):
        self.settings = settings

    @cached_property
    def db(self) -> Database:
        return Database(self.settings.database_url)

    @cached_property
    def celery(self):
        from workers.celery_app import make_celery

        return make_celery(self.settings)

    @cached_property
    def redis(self) -> redis.Redis:
        # Short timeouts: an API request must fail fast (503) rather than hang on a dead Redis.
        return redis.Redis.from_url(self.settings.redis_url, socket_timeout=3,
                                    socket_connect_timeout=2, decode_responses=True)

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.dispose()
        if "redis" in self.__dict__:
            self.redis.close()
