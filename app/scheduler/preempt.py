"""Which running jobs to preempt for a job that has waited too long: on one host, the cheapest
set of preemptible jobs whose GPUs (and slot) make an aligned block for it; for a multi-host job,
the cheapest such sets (or free blocks) on as many hosts as it has instances. A victim has a
strictly lower priority, or (for a job within its workspace's quota) runs on borrowed GPUs,
beyond its own workspace's quota: borrowed work goes first, whatever its priority. Cheapest =
the fewest GPU-seconds of work lost by victims on their own quota, then by all, counted since
each victim's last checkpoint (its last reported epoch, else its start). A multi-host victim
stops as a whole, so it costs all its GPUs wherever it is chosen.

Pure and deterministic, like the rest of app.scheduler: the caller passes the clock and a
snapshot; the scheduler process turns a Preemption into stop requests and a hold."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.scheduler.fit import blocks, fit, lowest, mask_of
from app.scheduler.model import HostView, PendingJob, has_env


@dataclass(frozen=True)
class Candidate:
    """A running job on one host as preemption sees it (a multi-host job: one per host)."""
    job_id: str
    host: str
    gpus: tuple[str, ...]
    priority: int
    preemptible: bool
    since_checkpoint: float   # seconds of work it would lose now
    attempt: int = 1          # which attempt to stop (not used in the choice)
    borrowed: bool = False    # its workspace holds more than its quota
    workspace: str = ""
    elsewhere: int = 0        # GPUs it holds on other hosts: a gang stops as a whole


@dataclass(frozen=True)
class Preemption:
    job_id: str                    # the job the GPUs are for
    #: (host, the GPUs it gets there once the victims are gone) per instance, by host name
    placed: tuple[tuple[str, tuple[str, ...]], ...]
    victims: tuple[str, ...]       # job ids, cheapest set
    lost_gpu_seconds: float

    @property
    def host(self) -> str:
        return self.placed[0][0]

    @property
    def gpus(self) -> tuple[str, ...]:
        return self.placed[0][1]


def choose(job: PendingJob, hosts: Sequence[HostView], running: Sequence[Candidate],
           within_quota: bool = False) -> Preemption | None:
    """The cheapest preemption that lets `job` start, or None when no set of victims can.
    `within_quota`: the job fits its workspace's quota, so borrowed work may be taken back."""
    allowed = [c for c in running if _victim(job, c, within_quota)]
    by_id = {c.job_id: c for c in allowed}
    by_host: dict[str, list[Candidate]] = {}   # once, not a scan of every job for every host
    for candidate in running:
        by_host.setdefault(candidate.host, []).append(candidate)
    per_host = []
    for host in hosts:
        if not host.schedulable or not has_env(host.envs, job) or len(host.gpus) < job.gpus:
            continue
        mine = by_host.get(host.name, [])
        options = list(_options(job, host, mine, set(by_id)))
        if job.instances > 1:
            options += _free(job, host)
        if options:
            per_host.append(min(options, key=lambda o: _key(o, by_id)))
    if job.instances == 1:
        return min(per_host, key=lambda o: _key(o, by_id), default=None)
    return _gang(job, per_host, by_id)


def _key(option: Preemption, by_id: dict[str, Candidate]) -> tuple:
    own = sum(_cost(by_id[v]) for v in option.victims if not by_id[v].borrowed)
    return own, option.lost_gpu_seconds, option.host


def _gang(job: PendingJob, per_host: list[Preemption],
          by_id: dict[str, Candidate]) -> Preemption | None:
    """All instances at once, each on its own host: the hosts whose cheapest option costs
    least; None unless it takes at least one victim (else the job needs no preemption)."""
    chosen = sorted(per_host, key=lambda o: _key(o, by_id))[:job.instances]
    victims = tuple(sorted({v for option in chosen for v in option.victims}))
    if len(chosen) < job.instances or not victims:
        return None
    placed = tuple(sorted((o.host, o.gpus) for o in chosen))
    return Preemption(job.id, placed, victims, sum(_cost(by_id[v]) for v in victims))


def _free(job: PendingJob, host: HostView) -> list[Preemption]:
    """The host as it is, when an instance fits there without stopping anything."""
    index = {gpu: i for i, gpu in enumerate(host.gpus)}
    found = fit(mask_of(index[g] for g in host.free_gpus if g in index), len(host.gpus),
                job.gpus)
    if found is None or host.free_slots < 1:
        return []
    gpus = tuple(host.gpus[i] for i in range(len(host.gpus)) if found[1] >> i & 1)
    return [Preemption(job.id, ((host.name, gpus),), (), 0.0)]


def _options(job: PendingJob, host: HostView, running: list[Candidate], allowed: set[str]):
    index = {gpu: i for i, gpu in enumerate(host.gpus)}
    if job.gpus == 0 or host.free_slots < 1:
        yield from _slot_only(job, host, running, allowed)
    if job.gpus == 0:
        return
    for block in blocks(len(host.gpus), job.gpus):
        holders = [c for c in running if any(index.get(g, -1) in block.indexes for g in c.gpus)]
        if not holders:
            continue   # the block is free: the job waits for a slot, or fits already
        if not all(c.job_id in allowed for c in holders):
            continue   # a holder that may not be preempted
        freed = {index[g] for c in holders for g in c.gpus if g in index}
        free = mask_of(index[g] for g in host.free_gpus if g in index) | mask_of(freed)
        inside = free & block.mask
        if inside.bit_count() < job.gpus or host.free_slots + len(holders) < 1:
            continue
        take = lowest(inside, job.gpus)
        gpus = tuple(host.gpus[i] for i in range(len(host.gpus)) if take >> i & 1)
        yield Preemption(job.id, ((host.name, gpus),), tuple(sorted(c.job_id for c in holders)),
                         sum(_cost(c) for c in holders))


def _slot_only(job: PendingJob, host: HostView, running: list[Candidate], allowed: set[str]):
    victims = sorted((c for c in running if c.job_id in allowed),
                     key=lambda c: (not c.borrowed, _cost(c), c.job_id))
    if host.free_slots < 1 and victims:
        yield Preemption(job.id, ((host.name, ()),), (victims[0].job_id,), _cost(victims[0]))


def _victim(job: PendingJob, candidate: Candidate, within_quota: bool) -> bool:
    if not candidate.preemptible or candidate.job_id == job.id:
        return False
    return candidate.priority < job.priority or (within_quota and candidate.borrowed
                                                 and candidate.workspace != job.workspace)


def _cost(candidate: Candidate) -> float:
    # A 0-GPU job still loses its work: count it as one GPU's worth so it is not free to take.
    gpus = len(candidate.gpus) + candidate.elsewhere
    return max(1, gpus) * max(0.0, candidate.since_checkpoint)
