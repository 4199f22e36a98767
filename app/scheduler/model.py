"""What the placement policy reads and returns: frozen values, no I/O, times in seconds."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from config.protocol import DEFAULT_ENV, InstanceAssignment

#: One instance of a placement is exactly what the allocation on the wire carries, so the
#: scheduler puts `Placement.instances` into a `config.protocol.Allocation` unchanged.
InstancePlacement = InstanceAssignment


@dataclass(frozen=True)
class PendingJob:
    id: str
    workspace: str          # opaque here
    priority: int           # 0..10, higher first
    gpus: int               # GPUs per instance; 0 needs only a slot
    submitted_at: float     # FIFO tie-break
    estimate_s: float | None = None   # expected run time (e.g. its time limit), None if unknown
    instances: int = 1      # > 1: all instances start together, each on its own host
    env: str = DEFAULT_ENV  # the runtime environment every host it runs on must declare


@dataclass(frozen=True)
class HostView:
    name: str
    gpus: tuple[str, ...]       # device ids in index order; blocks align on the index here
    free_gpus: frozenset[str]
    slots: int                  # max concurrent jobs on the host
    free_slots: int
    schedulable: bool = True    # False: draining or offline, nothing new starts there
    envs: frozenset[str] = frozenset({DEFAULT_ENV})   # the runtime environments it declares
    live: bool = True           # heartbeating (online or draining): its envs are current


def has_env(envs: frozenset[str], job: PendingJob) -> bool:
    """The one rule of runtime environments: a job runs only where its interpreter is, on
    every host of a multi-host job. Placement, ETAs, reasons and preemption all ask this."""
    return job.env in envs


@dataclass(frozen=True)
class RunningJob:
    id: str
    hosts: Mapping[str, tuple[str, ...]]   # host -> GPU ids held there (and 1 slot per host)
    expected_end: float | None             # absolute; None = unknown
    workspace: str = ""                    # whose quota it counts against


@dataclass(frozen=True)
class Placement:
    job_id: str
    instances: tuple[InstancePlacement, ...]   # rank 0 first; ranks follow host-name order


class Reason(StrEnum):
    """Why a pending job is not running; the API shows the text."""
    NO_HOST = "no_host"                  # the pool has no host at all
    NO_ENVIRONMENT = "no_environment"    # no live host of the pool has its runtime environment
    DRAINING = "draining"                # the hosts that could run it are draining or offline
    TOO_BIG = "too_big"                  # no host of the pool has that many GPUs (or hosts)
    WAITING_FOR_GPUS = "waiting_for_gpus"   # the blocked head: waits for GPUs to free
    BEHIND_HIGHER_PRIORITY = "behind_higher_priority"  # jobs ahead of it go first
    OVER_QUOTA = "over_quota"            # its workspace is at its GPU quota; it may borrow idle
                                         # GPUs, after every job within its quota
    PREEMPTING = "preempting"            # lower-priority jobs are stopping to free its GPUs


@dataclass(frozen=True)
class QueueEntry:
    job_id: str
    position: int               # 1 = next
    reason: Reason
    message: str                # a sentence for a person
    eta_seconds: float | None   # planned start - now; None when unknown
    eta_basis: str              # how the ETA was made, or what it would need


@dataclass(frozen=True)
class Plan:
    placements: tuple[Placement, ...]    # start these now, in this order
    queue: tuple[QueueEntry, ...]        # every job not placed now, in order
    # (head job id, host reserved for it, shadow time or None): EASY's protected head.
    reservation: tuple[str, str, float | None] | None
    borrowing: frozenset[str] = frozenset()   # placed or queued beyond their workspace's quota
    #: The jobs not placed that could run in the pool but wait for GPUs (their reason is
    #: waiting_for_gpus or behind_higher_priority), in queue order: what preemption may help.
    #: Given with or without `explain`, so a cycle that publishes no queue still preempts.
    blocked: tuple[str, ...] = ()
