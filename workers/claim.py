"""Atomic claim of one instance of an attempt in Redis, and the lease its heartbeats keep fresh.
A single-instance job has one instance, rank 0; each instance of a gang has its own claim and
lease, so a lost host is noticed whichever rank it ran.

The lease value (config.protocol: "<owner>|<redis server time>") is stamped by the server, so
clocks of GPU hosts never matter. After the attempt ends, the lease names LEASE_DONE as its
owner until the consumer has recorded the outcome."""
from __future__ import annotations

import logging
from typing import NamedTuple

from redis import exceptions as redis_errors

from config.keys import (CLAIMED_SET, allocation_key, attempt_key, cancel_key, claim_key,
                         claimed_member, gang_end_key, lease_key, preempt_key, stop_channel)
from config.protocol import LEASE_DONE, LEASE_SEPARATOR

log = logging.getLogger(__name__)

#: How long claims and leases are remembered: longer than any re-delivery can arrive.
KEY_TTL_SECONDS = 60 * 24 * 3600

# One round trip, so a cancel, a second delivery or the scheduler taking the GPUs back can never
# slip between check and take. The allocation must still be the one this message carries: the
# scheduler releases an unclaimed one only in a script that checks for the claim (fencing).
_CLAIM = f"""
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
local current = tonumber(redis.call('GET', KEYS[4]) or '0')
if current > tonumber(ARGV[3]) then return -2 end
if redis.call('GET', KEYS[6]) ~= ARGV[5] then return -3 end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'EX', ARGV[2]) then
  local now = redis.call('TIME')
  redis.call('SET', KEYS[3], ARGV[1] .. '{LEASE_SEPARATOR}' .. now[1], 'EX', ARGV[2])
  redis.call('ZADD', KEYS[5], now[1], ARGV[4])
  return 1
end
return 0
"""

# Renew the lease unless a newer attempt of the job exists (then: 0, the caller must stop).
# The claim is re-asserted too: if Redis lost its data, a re-sent copy of this attempt's message
# must still find it taken.
_HEARTBEAT = f"""
local current = tonumber(redis.call('GET', KEYS[2]) or '0')
if current > tonumber(ARGV[2]) then return 0 end
local now = redis.call('TIME')
redis.call('SET', KEYS[1], ARGV[1] .. '{LEASE_SEPARATOR}' .. now[1], 'EX', ARGV[3])
if KEYS[3] then redis.call('SET', KEYS[3], ARGV[4], 'NX', 'EX', ARGV[3]) end
return 1
"""

CLAIMED, DUPLICATE, CANCELLED, SUPERSEDED, FENCED = 1, 0, -1, -2, -3


def claim(redis, job_id: str, attempt: int, owner: str, allocation: str, rank: int = 0) -> int:
    """CLAIMED for the one owner of the instance; DUPLICATE, CANCELLED, SUPERSEDED, or FENCED
    (the attempt's allocation in Redis is not `allocation`, the wire form this message carries)."""
    keys = [cancel_key(job_id), claim_key(job_id, attempt, rank),
            lease_key(job_id, attempt, rank), attempt_key(job_id), CLAIMED_SET,
            allocation_key(job_id, attempt)]
    return int(redis.eval(_CLAIM, len(keys), *keys, owner, KEY_TTL_SECONDS, attempt,
                          claimed_member(job_id, attempt, rank), allocation))


def heartbeat(redis, job_id: str, attempt: int, owner: str, rank: int = 0) -> bool:
    """Refresh the lease; False when the control plane has moved the job to a newer attempt."""
    keys = [lease_key(job_id, attempt, rank), attempt_key(job_id),
            claim_key(job_id, attempt, rank)]
    return bool(redis.eval(_HEARTBEAT, 3, *keys, owner, attempt, KEY_TTL_SECONDS, owner))


def mark_done(redis, job_id: str, attempt: int, rank: int = 0) -> None:
    """The instance ended and its outcome is in the stream: not lost, whatever the clock says."""
    redis.eval(_HEARTBEAT, 2, lease_key(job_id, attempt, rank), attempt_key(job_id), LEASE_DONE,
               attempt, KEY_TTL_SECONDS, LEASE_DONE)


def release(redis, job_id: str, attempt: int, rank: int = 0) -> None:
    """This worker is finished with the instance, however it ended."""
    redis.zrem(CLAIMED_SET, claimed_member(job_id, attempt, rank))


class StopRequests(NamedTuple):
    cancelled: bool  # stopped by request
    preempt: str | None  # the scheduler's PreemptRequest (wire form)
    gang_ended: str | None  # why the control plane ended the attempt's other instances


def stop_requests(redis, job_id: str, attempt: int) -> StopRequests:
    """What asks a running instance to stop, in one round trip."""
    cancelled, preempt, ended = redis.mget(cancel_key(job_id), preempt_key(job_id, attempt),
                                           gang_end_key(job_id, attempt))
    return StopRequests(cancelled is not None, preempt, ended)


def announce_stop(redis, why: str, *job_ids: str) -> None:
    """Wake the supervisors of `job_ids` now; call it right after setting the key that asks them
    to stop. The key is the truth: a failed publish only delays the stop to the next heartbeat,
    so it never fails the caller's stop."""
    try:
        for job_id in job_ids:
            redis.publish(stop_channel(job_id), why)
    except redis_errors.RedisError as exc:
        log.warning("could not announce the stop of %s (%s); its worker sees it at its next "
                    "heartbeat", ", ".join(job_ids), exc)
