"""Atomic claim of one attempt in Redis, and the lease its heartbeats keep fresh.

The lease value is "<owner>|<redis server time>": the reaper compares it with the server clock,
so clocks of GPU hosts never matter. After the attempt ends, the lease reads "done|<time>" until
the consumer has recorded the outcome."""
from __future__ import annotations

from config.keys import attempt_key, cancel_key, claim_key, lease_key

#: How long claims and leases are remembered: longer than any re-delivery can arrive.
KEY_TTL_SECONDS = 60 * 24 * 3600
DONE = "done"

# One round trip, so a cancel and a second delivery can never slip between check and take.
_CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
local current = tonumber(redis.call('GET', KEYS[4]) or '0')
if current > tonumber(ARGV[3]) then return -2 end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'EX', ARGV[2]) then
  local now = redis.call('TIME')
  redis.call('SET', KEYS[3], ARGV[1] .. '|' .. now[1], 'EX', ARGV[2])
  return 1
end
return 0
"""

# Renew the lease unless a newer attempt of the job exists (then: 0, the caller must stop).
_HEARTBEAT = """
local current = tonumber(redis.call('GET', KEYS[2]) or '0')
if current > tonumber(ARGV[2]) then return 0 end
local now = redis.call('TIME')
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. now[1], 'EX', ARGV[3])
return 1
"""

CLAIMED, DUPLICATE, CANCELLED, SUPERSEDED = 1, 0, -1, -2


def claim(redis, job_id: str, attempt: int, owner: str) -> int:
    """CLAIMED for the one owner of the attempt; DUPLICATE, CANCELLED or SUPERSEDED otherwise."""
    keys = [cancel_key(job_id), claim_key(job_id, attempt), lease_key(job_id, attempt),
            attempt_key(job_id)]
    return int(redis.eval(_CLAIM, 4, *keys, owner, KEY_TTL_SECONDS, attempt))


def heartbeat(redis, job_id: str, attempt: int, owner: str) -> bool:
    """Refresh the lease; False when the control plane has moved the job to a newer attempt."""
    keys = [lease_key(job_id, attempt), attempt_key(job_id)]
    return bool(redis.eval(_HEARTBEAT, 2, *keys, owner, attempt, KEY_TTL_SECONDS))


def mark_done(redis, job_id: str, attempt: int) -> None:
    """The attempt ended and its outcome is in the stream: not lost, whatever the clock says."""
    redis.eval(_HEARTBEAT, 2, lease_key(job_id, attempt), attempt_key(job_id), DONE, attempt,
               KEY_TTL_SECONDS)


def is_cancelled(redis, job_id: str) -> bool:
    return bool(redis.exists(cancel_key(job_id)))


def parse_lease(value: str | None) -> tuple[str, int] | None:
    """(owner, server time of the last heartbeat), or None when there is no lease."""
    if not value:
        return None
    owner, _, stamp = value.rpartition("|")
    return owner, int(stamp or 0)
