"""Which running jobs to preempt for a job that has waited too long: on one host, the cheapest
set of preemptible jobs whose GPUs (and slot) make an aligned block for it. A victim has a
strictly lower priority, or (for a job within its workspace's quota) runs on borrowed GPUs,
beyond its own workspace's quota: borrowed work goes first, whatever its priority. Cheapest =
the fewest GPU-seconds of work lost by victims on their own quota, then by all, counted since
each victim's last checkpoint (its last reported epoch, else its start).

Pure and deterministic, like the rest of app.scheduler: the caller passes the clock and a
snapshot; the scheduler process turns a Preemption into stop requests and a hold."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.scheduler.fit import blocks, lowest, mask_of
from app.scheduler.model import HostView, PendingJob


@dataclass(frozen=True)
class Candidate:
    """A running single-host job as preemption sees it."""
    job_id: str
    host: str
    gpus: tuple[str, ...]
    priority: int
    preemptible: bool
    since_checkpoint: float   # seconds of work it would lose now
    attempt: int = 1          # which attempt to stop (not used in the choice)
    borrowed: bool = False    # its workspace holds more than its quota
    workspace: str = ""


@dataclass(frozen=True)
class Preemption:
    job_id: str                    # the job the GPUs are for
    host: str
    gpus: tuple[str, ...]          # what it gets there once the victims are gone
    victims: tuple[str, ...]       # job ids, cheapest set
    lost_gpu_seconds: float


def choose(job: PendingJob, hosts: Sequence[HostView], running: Sequence[Candidate],
           within_quota: bool = False) -> Preemption | None:
    """The cheapest preemption that lets `job` start, or None when no set of victims can.
    `within_quota`: the job fits its workspace's quota, so borrowed work may be taken back."""
    if job.instances != 1:
        return None   # a gang is preempted for only as a whole: not yet
    allowed = [c for c in running if _victim(job, c, within_quota)]
    by_id = {c.job_id: c for c in allowed}
    best, best_key = None, None
    for host in hosts:
        if not host.schedulable or len(host.gpus) < job.gpus:
            continue
        mine = [c for c in running if c.host == host.name]
        for option in _options(job, host, mine, set(by_id)):
            own = sum(_cost(by_id[v]) for v in option.victims if not by_id[v].borrowed)
            key = (own, option.lost_gpu_seconds, option.host)
            if best_key is None or key < best_key:
                best, best_key = option, key
    return best


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
        yield Preemption(job.id, host.name, gpus, tuple(sorted(c.job_id for c in holders)),
                         sum(_cost(c) for c in holders))


def _slot_only(job: PendingJob, host: HostView, running: list[Candidate], allowed: set[str]):
    victims = sorted((c for c in running if c.job_id in allowed),
                     key=lambda c: (not c.borrowed, _cost(c), c.job_id))
    if host.free_slots < 1 and victims:
        yield Preemption(job.id, host.name, (), (victims[0].job_id,), _cost(victims[0]))


def _victim(job: PendingJob, candidate: Candidate, within_quota: bool) -> bool:
    if not candidate.preemptible or candidate.job_id == job.id:
        return False
    return candidate.priority < job.priority or (within_quota and candidate.borrowed
                                                 and candidate.workspace != job.workspace)


def _cost(candidate: Candidate) -> float:
    # A 0-GPU job still loses its work: count it as one GPU's worth so it is not free to take.
    return max(1, len(candidate.gpus)) * max(0.0, candidate.since_checkpoint)
