"""Atomic claim of one attempt in Redis, and the lease its heartbeats keep alive."""
from __future__ import annotations

from config.keys import cancel_key, claim_key, lease_key

#: How long a claim is remembered: longer than any redelivery of the same message can arrive.
CLAIM_TTL_SECONDS = 60 * 24 * 3600

# One round trip, so a cancel and a second delivery can never slip between check and take.
_CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'EX', ARGV[2]) then
  redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[3])
  return 1
end
return 0
"""

CLAIMED, DUPLICATE, CANCELLED = 1, 0, -1


def claim(redis, job_id: str, attempt: int, owner: str, lease_seconds: float) -> int:
    """CLAIMED for the one owner of the attempt; DUPLICATE or CANCELLED for anyone else."""
    keys = [cancel_key(job_id), claim_key(job_id, attempt), lease_key(job_id, attempt)]
    return int(redis.eval(_CLAIM, 3, *keys, owner, CLAIM_TTL_SECONDS, int(lease_seconds * 1000)))


def renew_lease(redis, job_id: str, attempt: int, owner: str, lease_seconds: float) -> None:
    redis.set(lease_key(job_id, attempt), owner, px=int(lease_seconds * 1000))


def release_lease(redis, job_id: str, attempt: int) -> None:
    redis.delete(lease_key(job_id, attempt))


def is_cancelled(redis, job_id: str) -> bool:
    return bool(redis.exists(cancel_key(job_id)))
