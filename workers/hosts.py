"""The registry of hosts in Redis. Each worker re-registers its host with every heartbeat (so a
registry Redis lost comes back by itself); the scheduler, the admin API and the CLI read it.
Draining is an operator's decision, kept in a field the heartbeat never writes."""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from config.keys import HOSTS_SET, host_jobs_key, host_key
from config.protocol import DEFAULT_ENV
from workers.host import Host

# KEYS: host hash, hosts set. ARGV: name, pool, GPU csv, slots, address, environment names csv.
# Stamped with the server's clock.
_REGISTER = """
local now = redis.call('TIME')[1]
redis.call('HSET', KEYS[1], 'pool', ARGV[2], 'gpus', ARGV[3], 'slots', ARGV[4], 'seen', now,
           'addr', ARGV[5], 'envs', ARGV[6])
redis.call('SADD', KEYS[2], ARGV[1])
return now
"""
# Only a known host can be drained: a typo must not create a host that never was.
_SET_DRAINING = """
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'draining', ARGV[2])
return 1
"""


class HostState(StrEnum):
    ONLINE = "online"  # heartbeating; takes new work
    DRAINING = "draining"  # heartbeating; its running jobs finish, nothing new starts there
    OFFLINE = "offline"  # no heartbeat within the lease (or it stopped); nothing starts there


@dataclass(frozen=True)
class HostRecord:
    name: str
    pool: str
    gpus: tuple[str, ...]
    slots: int
    seen: int  # Redis server time of the last heartbeat; 0 once the worker stopped
    draining: bool
    jobs: dict[str, tuple[str, ...]]  # "<job>|<attempt>" -> GPU ids it holds here
    addr: str = ""  # where the other hosts of a multi-host job reach it
    envs: tuple[str, ...] = (DEFAULT_ENV,)  # its runtime environments' names, sorted

    def state(self, now: int, fresh_seconds: float) -> HostState:
        if now - self.seen > fresh_seconds:
            return HostState.OFFLINE
        return HostState.DRAINING if self.draining else HostState.ONLINE

    @property
    def free_gpus(self) -> tuple[str, ...]:
        held = {gpu for gpus in self.jobs.values() for gpu in gpus}
        return tuple(gpu for gpu in self.gpus if gpu not in held)

    @property
    def free_slots(self) -> int:
        return max(0, self.slots - len(self.jobs))


def register(redis, host: Host) -> int:
    """Announce the host as alive now; returns the server time it was stamped with."""
    return int(redis.eval(_REGISTER, 2, host_key(host.name), HOSTS_SET, host.name, host.pool,
                          ",".join(host.gpus), host.slots, host.addr,
                          ",".join(sorted(host.envs))))


def go_offline(redis, name: str) -> None:
    """The worker is stopping: place nothing more there, without waiting for the lease."""
    redis.hset(host_key(name), "seen", 0)


def set_draining(redis, name: str, draining: bool) -> bool:
    """False when no host of that name ever registered."""
    return bool(redis.eval(_SET_DRAINING, 2, host_key(name), HOSTS_SET, name,
                           "1" if draining else ""))


def read_hosts(redis) -> tuple[int, list[HostRecord]]:
    """The server's time and every registered host, by name."""
    names = sorted(redis.smembers(HOSTS_SET))
    pipe = redis.pipeline(transaction=False)
    pipe.time()
    for name in names:
        pipe.hgetall(host_key(name))
        pipe.hgetall(host_jobs_key(name))
    replies = pipe.execute()
    now, rows = int(replies[0][0]), replies[1:]
    hosts = [_record(name, rows[2 * i], rows[2 * i + 1]) for i, name in enumerate(names)]
    return now, [host for host in hosts if host is not None]


def read_host(redis, name: str) -> HostRecord | None:
    pipe = redis.pipeline(transaction=False)
    pipe.hgetall(host_key(name))
    pipe.hgetall(host_jobs_key(name))
    fields, jobs = pipe.execute()
    return _record(name, fields, jobs)


def _record(name: str, fields: dict, jobs: dict) -> HostRecord | None:
    if not fields.get("pool"):
        return None  # drained before its first heartbeat after a Redis flush: nothing known yet
    return HostRecord(name=name, pool=fields["pool"], gpus=_ids(fields.get("gpus", "")),
                      slots=int(fields.get("slots") or 0), seen=int(fields.get("seen") or 0),
                      draining=bool(fields.get("draining")),
                      jobs={member: _ids(gpus) for member, gpus in jobs.items()},
                      addr=fields.get("addr", ""),
                      # A worker from before environments registers none: it has its own Python.
                      envs=_ids(fields.get("envs", "")) or (DEFAULT_ENV,))


def _ids(csv: str) -> tuple[str, ...]:
    return tuple(filter(None, csv.split(",")))
