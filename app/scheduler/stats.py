"""What a simulation measures: utilisation over the arrival window, and waits per job size."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from app.scheduler.model import PendingJob


@dataclass(frozen=True)
class SimResult:
    policy: str
    util_backlog: float   # busy GPU-s / (GPUs x time with a job pending), in the arrival window
    util: float           # busy GPU-s / (GPUs x arrival window)
    waits: dict[int, tuple[int, float, float]]   # GPUs -> (jobs started, mean wait s, max wait s)
    dropped: int          # jobs the policy can never run (static: > 4 GPUs)
    max_busy: int         # most GPUs in use at once
    #: workspace -> (jobs started, mean wait s, max wait s)
    workspace_waits: dict[str, tuple[int, float, float]] = field(default_factory=dict)
    #: workspace -> most GPUs it held at once within its quota (only workspaces with one)
    peak_within: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)

    def figures(self) -> dict[str, float | int | None]:
        """The figures the README quotes, rounded: utilisations, waits in hours."""
        hours = {"wait8_max_h": self.wait_h(8, "max"), "wait1_mean_h": self.wait_h(1, "mean")}
        return {"util_backlog": round(self.util_backlog, 3), "util": round(self.util, 3),
                **{k: None if v is None else round(v, 2) for k, v in hours.items()},
                "dropped": self.dropped}

    def wait_h(self, gpus: int, which: str) -> float | None:
        """Mean or max wait of `gpus`-GPU jobs in hours; None when none started."""
        if gpus not in self.waits:
            return None
        _, mean, most = self.waits[gpus]
        return (mean if which == "mean" else most) / 3600


@dataclass
class Meter:
    """Integrates busy GPUs between events. Only the arrival window counts: after the last
    arrival the offered load falls away and the tail would say nothing about the policy."""
    gpus: int
    arrivals_end: float = 0.0
    last: float = 0.0
    busy_s: float = 0.0
    backlog_s: float = 0.0
    backlog_busy_s: float = 0.0
    max_busy: int = 0
    dropped: int = 0
    waits: dict[int, list[float]] = field(default_factory=dict)
    workspace_waits: dict[str, list[float]] = field(default_factory=dict)
    peak_within: dict[str, int] = field(default_factory=dict)

    def advance(self, now: float, busy: int, backlog: bool) -> None:
        """Account for (last, now], during which `busy` GPUs were in use."""
        span = max(0.0, min(now, self.arrivals_end) - min(self.last, self.arrivals_end))
        self.busy_s += busy * span
        if backlog:
            self.backlog_s += span
            self.backlog_busy_s += busy * span
        self.max_busy, self.last = max(self.max_busy, busy), now

    def started(self, job: PendingJob, now: float) -> None:
        self.waits.setdefault(job.gpus, []).append(now - job.submitted_at)
        self.workspace_waits.setdefault(job.workspace, []).append(now - job.submitted_at)

    def drop(self, job: PendingJob) -> None:
        self.dropped += 1

    def result(self, policy: str) -> SimResult:
        window = self.gpus * self.arrivals_end
        return SimResult(policy, self.backlog_busy_s / (self.gpus * self.backlog_s or 1.0),
                         self.busy_s / (window or 1.0), _summary(self.waits), self.dropped,
                         self.max_busy, _summary(self.workspace_waits), dict(self.peak_within))


def _summary(waits: dict) -> dict:
    """key -> (jobs started, mean wait s, max wait s)."""
    return {k: (len(w), sum(w) / len(w), max(w)) for k, w in sorted(waits.items())}
