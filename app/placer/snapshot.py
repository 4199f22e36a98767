"""One consistent-enough picture of every pool for a scheduling cycle: hosts and what they hold
(Redis), the jobs waiting to be placed and the running jobs' expected ends (the database).

A picture may be stale by the time it is acted on; that is safe, because every reservation is
checked again inside its Lua call (free GPUs, host alive, epoch current)."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from sqlalchemy import select

from app.domain.status import JobStatus
from app.models import Job, Workspace
from app.placer.pending import PendingCache
from app.placer.running import RunningCache
from app.scheduler.model import HostView, PendingJob, RunningJob
from config.keys import ALLOCATIONS_SET
from workers.hosts import HostRecord, HostState, read_hosts


@dataclass
class PoolView:
    hosts: list[HostView] = field(default_factory=list)
    running: list[RunningJob] = field(default_factory=list)
    pending: list[PendingJob] = field(default_factory=list)


@dataclass
class Snapshot:
    now: float  # wall clock, the policy's time base
    pools: dict[str, PoolView]
    attempts: dict[str, int]  # pending job id -> the attempt to place
    #: running job id -> how its expected end was estimated (estimates.FROM_*)
    end_basis: dict[str, str]
    quotas: dict[str, int]  # workspace id (as text) -> its GPU quota; absent: none


@dataclass
class Kept:
    """What a scheduler keeps between cycles (a throwaway one reads everything afresh)."""
    pending: PendingCache = field(default_factory=PendingCache)
    running: RunningCache = field(default_factory=RunningCache)


def take(session, redis, fresh_seconds: float, now: float, pool: str | None = None,
         hosts: tuple[int, list[HostRecord]] | None = None,
         kept: Kept | None = None) -> Snapshot:
    """Every pool, or only `pool` (its hosts and its jobs); `hosts`: read_hosts() as the caller
    read it a moment ago (a pass over every pool reads 500 hosts once, not once a pool);
    `kept`: the scheduler's memory of its last cycles (pending.py, running.py)."""
    kept = kept or Kept()
    server_now, records = hosts or read_hosts(redis)
    if pool is not None:
        records = [record for record in records if record.pool == pool]
    placed = {_job_of(member) for member in redis.zrange(ALLOCATIONS_SET, 0, -1)}
    pools: dict[str, PoolView] = defaultdict(PoolView)
    for record in records:
        state = record.state(server_now, fresh_seconds)
        pools[record.pool].hosts.append(_host_view(record, state))
    ends, owners = kept.running.read(session, _holders(records), now, pool)
    running: dict[str, dict[str, RunningJob]] = defaultdict(dict)   # pool -> job id -> job
    for record in records:
        for job_id, gpus in _held(record).items():
            _running(running[record.pool], job_id, record.name, gpus, ends.get(job_id),
                     owners.get(job_id, ""))
    for pool, jobs in running.items():
        pools[pool].running.extend(jobs.values())
    attempts = {}
    for attempt, job_pool, job in kept.pending.read(session, now, placed, pool):
        pools[job_pool].pending.append(job)
        attempts[job.id] = attempt
    return Snapshot(now, dict(pools), attempts, {j: basis for j, (_, basis) in ends.items()},
                    _quotas(session))


def _job_of(member: str) -> str:
    return member.rpartition("|")[0]


def _holders(records: list[HostRecord]) -> set[str]:
    return {_job_of(member) for record in records for member in record.jobs}


def _held(record: HostRecord) -> dict[str, tuple[str, ...]]:
    return {_job_of(member): gpus for member, gpus in record.jobs.items()}


def _host_view(record: HostRecord, state: HostState) -> HostView:
    return HostView(name=record.name, gpus=record.gpus, free_gpus=frozenset(record.free_gpus),
                    slots=record.slots, free_slots=record.free_slots,
                    schedulable=state is HostState.ONLINE,   # not draining, not offline
                    envs=frozenset(record.envs), live=state is not HostState.OFFLINE)


def _running(jobs: dict[str, RunningJob], job_id: str, host: str, gpus: tuple[str, ...],
             end: tuple[float, str] | None, workspace: str) -> None:
    job = jobs.get(job_id)
    if job is not None:   # an instance on another host: one job, several hosts
        jobs[job_id] = replace(job, hosts={**job.hosts, host: gpus})
        return
    jobs[job_id] = RunningJob(job_id, {host: gpus}, end[0] if end else None, workspace)


def _quotas(session) -> dict[str, int]:
    rows = session.execute(select(Workspace.id, Workspace.gpu_quota)
                           .where(Workspace.gpu_quota.is_not(None)))
    return {str(workspace): quota for workspace, quota in rows}


def every_pool(session, records: list[HostRecord], configured: Iterable[str]) -> list[str]:
    """Every pool there is something to plan or publish for: configured, with a host, or with a
    queued job (one submitted before its pool left the configuration still gets a reason)."""
    queued = session.scalars(select(Job.pool).where(Job.status == JobStatus.QUEUED.value)
                             .distinct())
    return sorted({*configured, *(record.pool for record in records), *queued})

