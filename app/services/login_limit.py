"""Slow down password guessing: after too many failed logins per username or per client
address within a window, refuse logins (429 with Retry-After) until the window ends."""
from __future__ import annotations

import logging

import redis as redis_lib

from app.errors import TooManyRequests
from config.keys import login_failures_key

log = logging.getLogger(__name__)


class LoginLimiter:
    """Fixed windows in Redis. When Redis does not answer, logins are allowed (and logged):
    a queue outage must not lock every user out; the passwords are still checked."""

    def __init__(self, redis, settings):
        self.redis = redis
        self.window = settings.login_window_seconds
        self.limits = {"user": settings.login_max_failures,
                       "ip": settings.login_max_failures_per_ip}

    def check(self, username: str, client: str) -> None:
        """429 when the username or the client address has used up its failures."""
        for scope, value in self._scopes(username, client):
            key = login_failures_key(scope, value)
            try:
                failures, ttl = self.redis.pipeline().get(key).ttl(key).execute()
            except redis_lib.RedisError as exc:
                log.warning("login rate limit not checked (Redis: %s)", exc)
                return
            if failures is not None and int(failures) >= self.limits[scope]:
                raise TooManyRequests(
                    f"too many failed logins for this {'user' if scope == 'user' else 'address'};"
                    f" try again in {max(ttl, 1)} seconds", retry_after=max(ttl, 1))

    def failed(self, username: str, client: str) -> None:
        try:
            pipe = self.redis.pipeline()
            for scope, value in self._scopes(username, client):
                key = login_failures_key(scope, value)
                pipe.incr(key).expire(key, self.window, nx=True)
            pipe.execute()
        except redis_lib.RedisError as exc:
            log.warning("failed login not counted (Redis: %s)", exc)

    def succeeded(self, username: str) -> None:
        # Only the username's count: an address's count must not be reset by a guesser that
        # also owns one valid account.
        try:
            self.redis.delete(login_failures_key("user", username.lower()))
        except redis_lib.RedisError as exc:
            log.warning("login failures not reset (Redis: %s)", exc)

    @staticmethod
    def _scopes(username: str, client: str) -> list[tuple[str, str]]:
        return [("user", username.lower()), ("ip", client or "unknown")]
