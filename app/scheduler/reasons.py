"""Why a job is not running, in words for the person who submitted it."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from app.scheduler.backfill import Guard
from app.scheduler.model import HostView, PendingJob, QueueEntry, Reason, has_env
from config.protocol import DEFAULT_ENV

_NEVER_BASIS = {Reason.NO_HOST: "unknown: the pool has no host",
                Reason.NO_ENVIRONMENT: "unknown: no live host of the pool has its runtime "
                                       "environment",
                Reason.DRAINING: "unknown: every host that could run it is draining or offline",
                Reason.TOO_BIG: "never: no host of the pool is big enough"}


def _sizes(hosts: Iterable[HostView]) -> tuple[int, ...]:
    return tuple(sorted((len(h.gpus) for h in hosts if h.slots > 0), reverse=True))


@dataclass(frozen=True)
class Capacity:
    """What the pool could ever run: per runtime environment, the GPU count of each host with
    a slot that declares it, largest first."""
    hosts: tuple[HostView, ...]
    #: The environments a live host declares; every host, live or not, has the default one.
    live_envs: frozenset[str]
    _by_env: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = field(
        default_factory=dict, compare=False, repr=False)
    #: (env, GPUs, instances) -> never()'s answer: thousands of queued jobs have a few shapes.
    _by_shape: dict[tuple[str, int, int], Reason | None] = field(
        default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, hosts: Sequence[HostView]) -> Capacity:
        live = frozenset({DEFAULT_ENV}).union(*(h.envs for h in hosts if h.live))
        return cls(tuple(hosts), live)

    def sizes(self, job: PendingJob) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(every host, the schedulable hosts) that could run the job's environment."""
        if job.env not in self._by_env:
            mine = [h for h in self.hosts if has_env(h.envs, job)]
            self._by_env[job.env] = (_sizes(mine), _sizes(h for h in mine if h.schedulable))
        return self._by_env[job.env]

    def never(self, job: PendingJob) -> Reason | None:
        """Why no host of the pool can run the job as the pool is now (None: some host can)."""
        shape = (job.env, job.gpus, job.instances)
        if shape not in self._by_shape:
            self._by_shape[shape] = self._never(job)
        return self._by_shape[shape]

    def _never(self, job: PendingJob) -> Reason | None:
        if not self.hosts:
            return Reason.NO_HOST
        if not has_env(self.live_envs, job):
            return Reason.NO_ENVIRONMENT
        sizes, schedulable = self.sizes(job)
        if not _room(sizes, job):
            return Reason.TOO_BIG
        return None if _room(schedulable, job) else Reason.DRAINING

    def never_entry(self, job: PendingJob, position: int, reason: Reason) -> QueueEntry:
        return QueueEntry(job.id, position, reason, self._never_message(job, reason), None,
                          _NEVER_BASIS[reason])

    def _never_message(self, job: PendingJob, reason: Reason) -> str:
        if reason is Reason.NO_HOST:
            return "the pool has no host online"
        if reason is Reason.NO_ENVIRONMENT:
            return (f"no live host of the pool has runtime environment \"{job.env}\"; start a "
                    f"worker with --env {job.env}=/path/to/python")
        if reason is Reason.DRAINING:
            return "every host that could run it is draining or offline; it starts when one is back"
        sizes, _ = self.sizes(job)
        having = "" if job.env == DEFAULT_ENV else f" with runtime environment \"{job.env}\""
        if job.instances > 1:
            return (f"needs {job.instances} hosts with {job.gpus} GPUs each; the pool has "
                    f"{sum(size >= job.gpus for size in sizes)}{having}")
        return (f"needs {job.gpus} GPUs on one host; the largest host of the pool{having} has "
                f"{sizes[0] if sizes else 0}")


def _room(sizes: tuple[int, ...], job: PendingJob) -> bool:
    return len(sizes) >= job.instances and sizes[job.instances - 1] >= job.gpus


def waiting(job: PendingJob, ahead: int, head: Guard | None, largest: int,
            delaying: bool) -> tuple[Reason, str]:
    """The reason and message of a job that could run but does not now. `ahead`: such jobs
    before it; `largest`: the largest free block now; `delaying`: it fits now but for the head."""
    if job.instances > 1 and ahead == 0:
        return Reason.WAITING_FOR_GPUS, (
            f"waiting for {job.instances} hosts with {job.gpus} free GPUs each at once")
    if (head and job.id == head.job_id) or ahead == 0:
        return Reason.WAITING_FOR_GPUS, (
            f"waiting for {job.gpus} free GPUs on one host (largest free block now: {largest})"
            if job.gpus else "waiting for a free job slot on a host")
    message = behind(ahead)
    if delaying and head:
        message += (f"; it fits now but would delay job {head.job_id}, which has {head.host} "
                    "reserved")
    return Reason.BEHIND_HIGHER_PRIORITY, message


def behind(ahead: int) -> str:
    return f"{ahead} queued job{'s' * (ahead != 1)} ahead of it go first"
