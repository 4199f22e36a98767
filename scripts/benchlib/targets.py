"""Issue 12's targets: each figure of `make bench` as a ratio to, or a difference from, a floor
measured in the same run, and the check CI runs on them (`--check`).

A figure fails the check when it is past its target by more than its noise band: the largest
relative distance from the mean among three runs of `make bench BENCH_ARGS=--short` on this
2-core machine (2026-12-06), rounded up to 5 % (the README's Performance section gives them). Targets not met yet are listed in NOT_YET_MET:
they are printed, and fail the check only when `--strict` is given; issue 12 stays open for
them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

Figure = Callable[[dict], float]


@dataclass(frozen=True)
class Target:
    key: str
    what: str
    value: Figure                 # the figure, from the results
    limit: float
    at_least: bool                # True: value ≥ limit (a ratio); False: value ≤ limit
    band: float                   # relative noise band: the check allows limit × (1 ∓ band)
    unit: str = ""

    def met(self, results: dict) -> bool:
        return self._holds(results, 0.0)

    def passes(self, results: dict) -> bool:
        return self._holds(results, self.band)

    def _holds(self, results: dict, band: float) -> bool:
        value = self.value(results)
        if self.at_least:
            return value >= self.limit * (1 - band)
        return value <= self.limit * (1 + band)

    def describe(self) -> str:
        sign = "≥" if self.at_least else "≤"
        return f"{sign} {self.limit:g}{self.unit} (band ±{self.band:.0%})"


def _ratio(figure: str, floor: str, field: str = "per_second",
           floor_field: str = "per_second") -> Figure:
    return lambda r: r[figure][field] / r[floor][floor_field]


def _over_spawn(quantile: str) -> Figure:
    return lambda r: (r["start"][f"script_start_{quantile}_ms"]
                      - r["spawn_floor"][f"spawn_{quantile}_ms"])


def _get(*path: str) -> Figure:
    def value(r: dict) -> float:
        for part in path:
            r = r[part]
        return r
    return value


TARGETS = (
    Target("submit", "single POST, 8 clients, webhooks on ÷ raw Celery publish",
           _ratio("submit", "publish_floor"), 0.15, True, 0.25, "×"),
    Target("batch", "POST …/jobs/batch jobs/s ÷ raw Celery publish",
           _ratio("batch", "publish_floor"), 1.0, True, 0.2, "×"),
    Target("start_p50", "submit → script start p50 − spawn p50",
           _over_spawn("p50"), 25, False, 0.25, " ms"),
    Target("start_p95", "submit → script start p95 − spawn p95",
           _over_spawn("p95"), 60, False, 0.3, " ms"),
    Target("steps", "step reports from 32 jobs at once ÷ raw single-client XADD",
           _ratio("steps", "xadd_floor", floor_field="single_per_second"), 0.25, True, 0.1,
           "×"),
    Target("steps_exact", "steps lost or doubled", lambda r: r["steps"]["lost"]
           + r["steps"]["doubled"], 0, False, 0.0),
    Target("curve", "metrics route, 100,000 steps at ?points=1000, p99",
           _get("curve", "p99_ms"), 50, False, 0.1, " ms"),
    Target("placer", "placer cycle p99 (pending jobs × simulated hosts)",
           _get("placer", "cycle_p99_ms"), 100, False, 0.1, " ms"),
    Target("list", "job list p99, the slowest of first page, cursor pages, each filter",
           lambda r: max(v for k, v in r["history"].items()
                         if k.startswith("list_") and k.endswith("_p99_ms")
                         and "offset" not in k), 20, False, 0.15, " ms"),
    Target("detail", "job detail p99", _get("history", "detail_p99_ms"), 20, False, 0.05, " ms"),
    Target("memory_worker", "idle worker host (agent + Celery + pool process, PSS)",
           _get("memory", "worker_pss_mb"), 80, False, 0.05, " MB"),
    Target("memory_api", "idle API process (largest gunicorn worker, RSS)",
           _get("memory", "api_rss_mb"), 150, False, 0.05, " MB"),
    Target("memory_consumer", "idle consumer (RSS)",
           _get("memory", "consumer_rss_mb"), 120, False, 0.05, " MB"),
)

#: Targets this code does not meet yet on the 2-core machine (see the README): printed, not
#: failed, unless --strict.
NOT_YET_MET: frozenset[str] = frozenset({
    # 0.07-0.13× (needs 0.15×; the floor itself moves 700-1,500/s between runs here): the
    # API's own CPU per submission, 8.5-12 ms (auth, workspace and quota checks, the job, its
    # transition and webhook rows, the detail read back), bounds it on 2 cores.
    "submit",
    # +25 to +29 ms over the spawn (p50; p95 +25 to +30, met): the API's commit and the
    # scheduler's cycle for the pool before the message, 12-20 ms together.
    "start_p50",
    # 112-133 ms p99 (p50 70-112 ms) at 10,000 pending jobs and 500 hosts, from 750 ms: the
    # pending jobs' light read, the hosts' records and the plan itself.
    "placer",
})


def check(results: dict, strict: bool = False) -> list[str]:
    """What fails: '<key>: <figure> is past <target>' for each target outside its band."""
    return [f"{t.key}: {t.value(results):.3g}{t.unit} is past {t.describe()} ({t.what})"
            for t in measured(results)
            if not t.passes(results) and (strict or t.key not in NOT_YET_MET)]


def rows(results: dict) -> list[tuple[str, str, str, str]]:
    """(what, figure, target, verdict) for the report."""
    return [(t.what, f"{t.value(results):.3g}{t.unit}", t.describe(),
             "met" if t.met(results) else "within band" if t.passes(results) else "NOT MET")
            for t in measured(results)]


def measured(results: dict) -> list[Target]:
    """The targets this run measured (a run may leave some out)."""
    found = []
    for target in TARGETS:
        try:
            target.value(results)
        except KeyError:
            continue
        found.append(target)
    return found
