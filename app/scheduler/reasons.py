"""Why a job is not running, in words for the person who submitted it."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from app.scheduler.backfill import Guard
from app.scheduler.model import HostView, PendingJob, QueueEntry, Reason

_NEVER_BASIS = {Reason.NO_HOST: "unknown: the pool has no host",
                Reason.DRAINING: "unknown: every host that could run it is draining or offline",
                Reason.TOO_BIG: "never: no host of the pool is big enough"}


def _sizes(hosts: Iterable[HostView]) -> tuple[int, ...]:
    return tuple(sorted((len(h.gpus) for h in hosts if h.slots > 0), reverse=True))


@dataclass(frozen=True)
class Capacity:
    """What the pool could ever run: the GPU count of each host with a slot, largest first."""
    hosts: int
    sizes: tuple[int, ...]
    schedulable: tuple[int, ...]

    @classmethod
    def of(cls, hosts: Sequence[HostView]) -> Capacity:
        return cls(len(hosts), _sizes(hosts), _sizes(h for h in hosts if h.schedulable))

    def never(self, job: PendingJob) -> Reason | None:
        """Why no host of the pool can run the job as the pool is now (None: some host can)."""
        if not self.hosts:
            return Reason.NO_HOST
        if not _room(self.sizes, job):
            return Reason.TOO_BIG
        return None if _room(self.schedulable, job) else Reason.DRAINING

    def never_entry(self, job: PendingJob, position: int, reason: Reason) -> QueueEntry:
        return QueueEntry(job.id, position, reason, self._never_message(job, reason), None,
                          _NEVER_BASIS[reason])

    def _never_message(self, job: PendingJob, reason: Reason) -> str:
        if reason is Reason.NO_HOST:
            return "the pool has no host online"
        if reason is Reason.DRAINING:
            return "every host that could run it is draining or offline; it starts when one is back"
        if job.instances > 1:
            return (f"needs {job.instances} hosts with {job.gpus} GPUs each; the pool has "
                    f"{sum(size >= job.gpus for size in self.sizes)}")
        return (f"needs {job.gpus} GPUs on one host; the largest host of the pool has "
                f"{self.sizes[0] if self.sizes else 0}")


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
