"""A deterministic discrete-event simulator of one pool: it drives `plan()` ("easy") and two
baselines ("greedy": start whatever fits now, no reservation; "static": each host cut into fixed
4+2+1+1-GPU slots, as trainq's per-slot workers do today) over a synthetic trace.

Time advances from event to event (arrivals and ends); the policy is asked only there. Every
start is checked: the GPUs exist, are free, are not given twice, and the host has a slot."""
from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app.scheduler.backfill import best_now, start
from app.scheduler.model import HostView, InstancePlacement, PendingJob, Placement, RunningJob
from app.scheduler.policy import DEFAULT_AGING_S, order, plan
from app.scheduler.state import pool_state
from app.scheduler.stats import Meter, SimResult

SIZES = ((1, .4), (2, .3), (4, .2), (8, .1))
STATIC_SLOTS = (4, 2, 1, 1)   # the fixed split of an 8-GPU host the static baseline uses


@dataclass(frozen=True)
class TraceJob:
    job: PendingJob
    duration: float   # what it really runs; job.estimate_s is the user's limit


def make_trace(seed: int, hosts: int, gpus_per_host: int, load: float, jobs: int,
               sizes: Sequence[tuple[int, float]] = SIZES, mean_s: float = 3600.0,
               priorities: Sequence[tuple[int, float]] = ((5, 1.0),),
               workspace: str = "sim") -> tuple[TraceJob, ...]:
    """Poisson arrivals offering `load` of the pool's GPU capacity; lognormal run times (mean
    `mean_s`, sigma 1); each estimate is the run time x U(1, 2), like a user's time limit."""
    rng = random.Random(seed)
    mean_gpus = sum(g * w for g, w in sizes) / sum(w for _, w in sizes)
    rate = load * hosts * gpus_per_host / (mean_gpus * mean_s)
    mu = math.log(mean_s) - 0.5   # lognormal mean = exp(mu + sigma^2 / 2)
    now, trace = 0.0, []
    for i in range(jobs):
        now += rng.expovariate(rate)
        gpus = rng.choices([g for g, _ in sizes], [w for _, w in sizes])[0]
        priority = rng.choices([p for p, _ in priorities], [w for _, w in priorities])[0]
        duration = rng.lognormvariate(mu, 1.0)
        job = PendingJob(f"{workspace}{i:05d}", workspace, priority, gpus, now,
                         duration * rng.uniform(1, 2))
        trace.append(TraceJob(job, duration))
    return tuple(trace)


#: The fairness scenario of research/scheduling.md S5: sizes 1/2/4 GPUs.
FAIR_SIZES = ((1, .5), (2, .3), (4, .2))


def fairness_trace(seed: int, hosts: int, gpus_per_host: int, jobs_a: int,
                   sizes: Sequence[tuple[int, float]] = FAIR_SIZES) -> tuple[TraceJob, ...]:
    """Workspace A offers 110 % of the pool at priority 8, workspace B 15 % at priority 2,
    over the same span of time: under strict priority B waits behind A's endless backlog."""
    a = make_trace(seed, hosts, gpus_per_host, 1.10, jobs_a, sizes, priorities=((8, 1.0),),
                   workspace="A")
    b = make_trace(seed + 1000, hosts, gpus_per_host, 0.15, round(jobs_a * 15 / 110), sizes,
                   priorities=((2, 1.0),), workspace="B")
    return tuple(sorted(a + b, key=lambda t: t.job.submitted_at))


class _Pool:
    """The simulated hosts: free GPU ids, running jobs, and what the policy sees of them."""

    def __init__(self, hosts: int, gpus_per_host: int, quotas: dict[str, int] | None = None):
        self.quotas = quotas or {}
        self.borrowing: frozenset[str] = frozenset()   # as the last plan said
        self.ids = tuple(str(i) for i in range(gpus_per_host))
        self.free = {f"h{h}": set(self.ids) for h in range(hosts)}
        self.jobs_on = {name: 0 for name in self.free}
        self.running: dict[str, RunningJob] = {}

    def views(self) -> list[HostView]:
        # One slot per GPU: on a GPU-only trace slots never bind, as on today's 8-GPU hosts.
        n = len(self.ids)
        return [HostView(name, self.ids, frozenset(free), n, n - self.jobs_on[name])
                for name, free in self.free.items()]

    def start(self, placement: Placement, job: PendingJob, now: float) -> None:
        assert placement.job_id not in self.running, f"{placement.job_id} started twice"
        assert len(placement.instances) == job.instances, f"{job.id}: partial gang"
        for instance in placement.instances:
            free = self.free[instance.host]
            gpus = set(instance.gpus)
            assert len(gpus) == len(instance.gpus) == job.gpus, f"{job.id}: wrong GPUs"
            assert gpus <= free, f"{job.id}: GPUs {instance.gpus} are not free"
            assert self.jobs_on[instance.host] < len(self.ids), f"{job.id}: no slot"
            free.difference_update(instance.gpus)
            self.jobs_on[instance.host] += 1
        hosts = {i.host: i.gpus for i in placement.instances}
        self.running[job.id] = RunningJob(job.id, hosts, now + job.estimate_s, job.workspace)

    def end(self, job_id: str) -> None:
        for host, gpus in self.running.pop(job_id).hosts.items():
            assert not self.free[host] & set(gpus), f"{job_id}: its GPUs were given away"
            self.free[host].update(gpus)
            self.jobs_on[host] -= 1

    def idle(self) -> bool:
        return any(self.free.values())

    def busy(self) -> int:
        return len(self.ids) * len(self.free) - sum(len(f) for f in self.free.values())


Policy = Callable[[float, _Pool, Sequence[PendingJob]], list[Placement]]


def _easy(now: float, pool: _Pool, pending: Sequence[PendingJob]) -> list[Placement]:
    # Only the starts matter here: the queue's reasons and ETAs are not asked for.
    decided = plan(now, pool.views(), list(pool.running.values()), pending, quotas=pool.quotas,
                   explain=False)
    pool.borrowing = decided.borrowing
    return list(decided.placements)


def _greedy(now: float, pool: _Pool, pending: Sequence[PendingJob]) -> list[Placement]:
    states = pool_state(now, pool.views(), pool.running.values())
    placed = []
    for job in order(pending, now, DEFAULT_AGING_S):
        chosen = best_now(states, job, None, now)
        if chosen is not None:
            placed.append(start(chosen, job, now))
    return placed


def _static(now: float, pool: _Pool, pending: Sequence[PendingJob]) -> list[Placement]:
    """Each job takes the smallest free fixed slot that is big enough (in queue order)."""
    placed = []
    free_slots = sorted(_free_static_slots(pool), key=lambda s: (len(s[1]), s[0], s[1]))
    for job in order(pending, now, DEFAULT_AGING_S):
        slot = next((s for s in free_slots if len(s[1]) >= job.gpus), None)
        if slot is not None:
            free_slots.remove(slot)
            placed.append(Placement(job.id, (InstancePlacement(0, slot[0], slot[1][:job.gpus]),)))
    return placed


def _free_static_slots(pool: _Pool) -> list[tuple[str, tuple[str, ...]]]:
    # A slot is free when all its GPUs are: a job in it always holds its first GPU.
    slots, low = [], 0
    for size in STATIC_SLOTS:
        slots.append(pool.ids[low:low + size])
        low += size
    return [(host, ids) for host, free in pool.free.items() for ids in slots if set(ids) <= free]


POLICIES: dict[str, Policy] = {"easy": _easy, "greedy": _greedy, "static": _static}


def simulate(trace: Sequence[TraceJob], hosts: int, gpus_per_host: int, policy: str,
             quotas: dict[str, int] | None = None) -> SimResult:
    """Run the trace to the end under one policy; see `SimResult` for what is measured.
    `quotas` (workspace -> GPUs, "easy" only): every start is also checked against them."""
    # Static slots top out at 4 GPUs: a bigger job would wait forever, so it is dropped.
    largest = max(STATIC_SLOTS) if policy == "static" else gpus_per_host
    run = _Run(trace, _Pool(hosts, gpus_per_host, quotas), POLICIES[policy], largest)
    while run.step():
        pass
    return run.meter.result(policy)


class _Run:
    def __init__(self, trace: Sequence[TraceJob], pool: _Pool, decide: Policy, largest: int):
        self.pool, self.decide, self.largest = pool, decide, largest
        self.meter = Meter(len(pool.ids) * len(pool.free))
        self.arrivals = sorted(trace, key=lambda t: t.job.submitted_at)
        self.meter.arrivals_end = self.arrivals[-1].job.submitted_at if trace else 0.0
        self.duration = {t.job.id: t.duration for t in trace}
        self.pending: dict[str, PendingJob] = {}   # arrival order: order() sorts it in O(n)
        self.ends: list[tuple[float, str]] = []
        self.borrowers: set[str] = set()   # running jobs that started beyond their quota
        self.next = 0

    def step(self) -> bool:
        """Move to the next event time, apply what happens there, let the policy start jobs."""
        now = min(self._due(), self.ends[0][0] if self.ends else math.inf)
        if now == math.inf:
            return False
        self.meter.advance(now, self.pool.busy(), bool(self.pending))
        while self.ends and self.ends[0][0] <= now:
            _, job_id = heapq.heappop(self.ends)
            self.pool.end(job_id)
            self.borrowers.discard(job_id)
        while self._due() <= now:
            self._arrive(self.arrivals[self.next].job)
            self.next += 1
        # With every GPU busy nothing can start (each trace job needs one): skip the policy.
        if self.pending and self.pool.idle():
            self._start(now)
        return True

    def _due(self) -> float:
        """When the next job arrives."""
        if self.next < len(self.arrivals):
            return self.arrivals[self.next].job.submitted_at
        return math.inf

    def _arrive(self, job: PendingJob) -> None:
        if job.gpus > self.largest:
            self.meter.drop(job)
        else:
            self.pending[job.id] = job

    def _start(self, now: float) -> None:
        for placement in self.decide(now, self.pool, list(self.pending.values())):
            job = self.pending.pop(placement.job_id)
            self.pool.start(placement, job, now)
            self.meter.started(job, now)
            if job.id in self.pool.borrowing:
                self.borrowers.add(job.id)
            self._check_quota(job.workspace)
            heapq.heappush(self.ends, (now + self.duration[job.id], job.id))
        assert self.pool.busy() <= self.meter.gpus, "more GPUs in use than exist"

    def _check_quota(self, workspace: str) -> None:
        """No workspace holds more than its quota plus what it borrowed: what it holds within
        its quota (every GPU not started as borrowed) never exceeds the quota."""
        quota = self.pool.quotas.get(workspace)
        if quota is None:
            return
        mine = [r for r in self.pool.running.values() if r.workspace == workspace]
        held = sum(sum(len(g) for g in r.hosts.values()) for r in mine)
        borrowed = sum(sum(len(g) for g in r.hosts.values()) for r in mine
                       if r.id in self.borrowers)
        assert held <= quota + borrowed, \
            f"{workspace} holds {held} GPUs: more than its quota {quota} + {borrowed} borrowed"
        self.meter.peak_within[workspace] = max(self.meter.peak_within.get(workspace, 0),
                                                held - borrowed)
