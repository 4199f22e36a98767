"""GPU allocations in Redis: reserved all-or-nothing by the scheduler, given back by whoever ends
the attempt. Each change is one Lua call, so no two jobs ever hold the same GPU; the scheduler's
fencing epoch is checked inside the reservation, so a deposed leader cannot place anything.

Both sides import this module: the scheduler reserves, a worker re-asserts what it runs (after
Redis lost its data) and releases, the reaper releases what a lost host held."""
from __future__ import annotations

from config.keys import (ALLOCATIONS_SET, EVERY_POOL, SCHEDULER_DIRTY, SCHEDULER_EPOCH,
                         SCHEDULER_WAKE, allocation_key, claim_key, claimed_member, host_jobs_key,
                         host_key)
from config.protocol import Allocation

RESERVED, STALE_EPOCH, TAKEN, HOST_OFFLINE, NO_SLOT, GPU_BUSY = (
    "ok", "stale-epoch", "taken", "host-offline", "no-slot", "gpu-busy")

# KEYS: epoch, allocation, allocations set, then (host hash, host jobs) per instance.
# ARGV: epoch, allocation JSON, member, host freshness (s), instance count, GPU csv per instance.
_RESERVE = """
if tonumber(redis.call('GET', KEYS[1]) or '-1') ~= tonumber(ARGV[1]) then return 'stale-epoch' end
if redis.call('EXISTS', KEYS[2]) == 1 then return 'taken' end
local now = tonumber(redis.call('TIME')[1])
local n = tonumber(ARGV[5])
for i = 1, n do
  local host, jobs = KEYS[2 + 2 * i], KEYS[3 + 2 * i]
  if now - tonumber(redis.call('HGET', host, 'seen') or '0') > tonumber(ARGV[4]) then
    return 'host-offline'
  end
  if redis.call('HLEN', jobs) >= tonumber(redis.call('HGET', host, 'slots') or '0') then
    return 'no-slot'
  end
  local busy, have = {}, {}
  for _, held in ipairs(redis.call('HVALS', jobs)) do
    for gpu in string.gmatch(held, '[^,]+') do busy[gpu] = true end
  end
  for gpu in string.gmatch(redis.call('HGET', host, 'gpus') or '', '[^,]+') do have[gpu] = true end
  for gpu in string.gmatch(ARGV[5 + i], '[^,]+') do
    if busy[gpu] or not have[gpu] then return 'gpu-busy' end
  end
end
for i = 1, n do redis.call('HSET', KEYS[3 + 2 * i], ARGV[3], ARGV[5 + i]) end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], now, ARGV[3])
return 'ok'
"""

# KEYS: allocation, allocations set, host jobs per instance. ARGV: member, allocation JSON.
# Only the allocation read by the caller is released: a newer one of the same key stays.
_RELEASE = """
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[2] then return 0 end
for i = 3, #KEYS do redis.call('HDEL', KEYS[i], ARGV[1]) end
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('DEL', KEYS[1])
"""

# KEYS: allocation, allocations set, this instance's host jobs, the other instances' host jobs.
# ARGV: member, allocation JSON. One instance of a gang gives back its own host's GPUs; the
# allocation itself goes with the last.
_RELEASE_INSTANCE = """
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[3], ARGV[1])
for i = 4, #KEYS do
  if redis.call('HEXISTS', KEYS[i], ARGV[1]) == 1 then return 1 end
end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1])
return 1
"""

# KEYS: allocation, allocations set, then each instance's claim, then each instance's host jobs.
# ARGV: member, allocation JSON, instance count. The sweep's release of an allocation no
# instance has claimed: a worker that claims in the same instant either wins (then this does
# nothing) or finds the allocation gone (then it drops it).
_RELEASE_UNCLAIMED = """
local n = tonumber(ARGV[3])
for i = 3, 2 + n do
  if redis.call('EXISTS', KEYS[i]) == 1 then return 0 end
end
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[2] then return 0 end
for i = 3 + n, #KEYS do redis.call('HDEL', KEYS[i], ARGV[1]) end
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('DEL', KEYS[1])
"""

# KEYS: allocation, allocations set, this host's jobs. ARGV: allocation JSON, member, GPU csv.
_REASSERT = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  redis.call('ZADD', KEYS[2], redis.call('TIME')[1], ARGV[2])
end
redis.call('HSETNX', KEYS[3], ARGV[2], ARGV[3])
"""


def reserve(redis, allocation: Allocation, host_fresh_seconds: float) -> str:
    """RESERVED, or why not (STALE_EPOCH, TAKEN, HOST_OFFLINE, NO_SLOT, GPU_BUSY)."""
    keys = [SCHEDULER_EPOCH, allocation_key(allocation.job_id, allocation.attempt),
            ALLOCATIONS_SET]
    for instance in allocation.instances:
        keys += [host_key(instance.host), host_jobs_key(instance.host)]
    argv = [allocation.epoch, allocation.to_wire(), _member(allocation), host_fresh_seconds,
            len(allocation.instances), *(",".join(i.gpus) for i in allocation.instances)]
    return redis.eval(_RESERVE, len(keys), *keys, *argv)


def release(redis, allocation: Allocation) -> bool:
    """Give the allocation's GPUs and slots back and wake the scheduler; idempotent."""
    keys = [allocation_key(allocation.job_id, allocation.attempt), ALLOCATIONS_SET,
            *(host_jobs_key(i.host) for i in allocation.instances)]
    released = bool(redis.eval(_RELEASE, len(keys), *keys, _member(allocation),
                               allocation.to_wire()))
    if released:
        wake_scheduler(redis)
    return released


def release_instance(redis, allocation: Allocation, host: str, pool: str | None = None) -> bool:
    """Give back what the instance on `host` (in `pool`, when the caller knows) holds (the whole
    allocation once no other instance holds anything) and wake the scheduler; idempotent. The
    other instances of a gang keep their GPUs until they have stopped too."""
    others = [host_jobs_key(i.host) for i in allocation.instances if i.host != host]
    keys = [allocation_key(allocation.job_id, allocation.attempt), ALLOCATIONS_SET,
            host_jobs_key(host), *others]
    released = bool(redis.eval(_RELEASE_INSTANCE, len(keys), *keys, _member(allocation),
                               allocation.to_wire()))
    if released:
        wake_scheduler(redis, *([pool] if pool else []))
    return released


def release_unclaimed(redis, allocation: Allocation) -> bool:
    """Give back an allocation no instance of which a worker has claimed; False if one has."""
    job, attempt = allocation.job_id, allocation.attempt
    keys = [allocation_key(job, attempt), ALLOCATIONS_SET,
            *(claim_key(job, attempt, i.rank) for i in allocation.instances),
            *(host_jobs_key(i.host) for i in allocation.instances)]
    released = bool(redis.eval(_RELEASE_UNCLAIMED, len(keys), *keys, _member(allocation),
                               allocation.to_wire(), len(allocation.instances)))
    if released:
        wake_scheduler(redis)
    return released


def forget(redis, member: str, hosts: list[str]) -> None:
    """Drop an allocation whose record is gone (Redis lost part of its data) from every host."""
    pipe = redis.pipeline(transaction=True)
    for host in hosts:
        pipe.hdel(host_jobs_key(host), member)
    pipe.zrem(ALLOCATIONS_SET, member)
    pipe.execute()
    wake_scheduler(redis)


def reassert(redis, allocation: Allocation, host: str) -> None:
    """A running attempt's allocation survives Redis losing its data: its heartbeat re-writes it."""
    gpus = next((i.gpus for i in allocation.instances if i.host == host), ())
    keys = [allocation_key(allocation.job_id, allocation.attempt), ALLOCATIONS_SET,
            host_jobs_key(host)]
    redis.eval(_REASSERT, len(keys), *keys, allocation.to_wire(), _member(allocation),
               ",".join(gpus))


def current(redis, job_id: str, attempt: int) -> Allocation | None:
    text = redis.get(allocation_key(job_id, attempt))
    return Allocation.from_wire(text) if text else None


def wake_scheduler(redis, *pools: str) -> None:
    """Placement may have changed in `pools` (none named: in any pool): the scheduler re-plans
    them now instead of at its next tick, before the pools nothing happened in."""
    pipe = redis.pipeline(transaction=False)
    pipe.sadd(SCHEDULER_DIRTY, *(pools or (EVERY_POOL,)))
    pipe.lpush(SCHEDULER_WAKE, "1")
    pipe.ltrim(SCHEDULER_WAKE, 0, 0)  # one pending wake-up is as good as many
    pipe.execute()


def _member(allocation: Allocation) -> str:
    return claimed_member(allocation.job_id, allocation.attempt)
