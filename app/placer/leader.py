"""One leading scheduler at a time: a lock that expires unless renewed, and a fencing epoch that
every reservation carries (workers.allocations checks it inside the same Lua call)."""
from __future__ import annotations

import os
import secrets
import socket

from config.keys import SCHEDULER_EPOCH, SCHEDULER_LOCK

# Take the lock, or renew it if we hold it; the epoch we lead with, or -1. A new leader's epoch
# is never below the server's clock in ms, so it never repeats even after Redis lost the counter.
_HOLD = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local epoch = redis.call('INCR', KEYS[2])
  local now = redis.call('TIME')
  local floor = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
  if epoch < floor then
    redis.call('SET', KEYS[2], floor)
    epoch = floor
  end
  return epoch
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return tonumber(redis.call('GET', KEYS[2]) or '-1')
end
return -1
"""
_RESIGN = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Leadership:
    def __init__(self, redis, lock_seconds: float):
        self.redis, self.lock_ms = redis, int(lock_seconds * 1000)
        self.holder = f"{socket.gethostname()}/pid{os.getpid()}/{secrets.token_hex(4)}"

    def hold(self) -> int | None:
        """The epoch this process leads with now, or None while another process leads."""
        epoch = int(self.redis.eval(_HOLD, 2, SCHEDULER_LOCK, SCHEDULER_EPOCH, self.holder,
                                    self.lock_ms))
        return epoch if epoch >= 0 else None

    def resign(self) -> None:
        """On a clean stop: the standby takes over at once instead of after the lock's TTL."""
        self.redis.eval(_RESIGN, 1, SCHEDULER_LOCK, self.holder)

    def leader(self) -> str | None:
        return self.redis.get(SCHEDULER_LOCK)
