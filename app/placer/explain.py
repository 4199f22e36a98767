"""The queue board a scheduling cycle leaves behind: every waiting job's position, reason and
ETA, explained from the very picture and plan the cycle placed by, and published for the
queue-position API (board.py).

Apart from the cycle, because explaining is most of a plan's work with thousands queued: the
forward plan behind the ETAs books every planned job on a timeline of every host. The cycle
decides with plan(explain=False) and sends its placements first; the pool's upkeep
(upkeep.py) publishes the board right after, at most every UPKEEP_PERIOD_SECONDS."""
from __future__ import annotations

from dataclasses import dataclass

from app.placer import board
from app.placer.estimates import FROM_EPOCHS, FROM_LIMIT
from app.placer.preemption import Hold, Preemptor
from app.placer.snapshot import PoolView, Snapshot
from app.scheduler.policy import Plan, plan


@dataclass(frozen=True)
class PoolWork:
    """What a cycle saw of a pool, decided and placed there."""
    view: PoolView
    others: PoolView   # the pool as planned: held GPUs taken, their holders out
    holds: list[Hold]
    snapshot: Snapshot
    decided: Plan      # without explanations (plan(explain=False)), as the cycle placed
    placed: frozenset[str]   # job ids the cycle placed


def publish(redis, preemptor: Preemptor, aging_seconds: float, pool: str,
            work: PoolWork) -> None:
    snapshot, others = work.snapshot, work.others
    decided = plan(snapshot.now, others.hosts, others.running, others.pending,
                   aging_seconds=aging_seconds, quotas=snapshot.quotas)
    waiting = [h for h in work.holds if h.job_id not in work.placed]
    board.publish(redis, pool, preemptor.queue(waiting, decided, snapshot.now), snapshot.now,
                  basis_note(work.view, snapshot))


def basis_note(view: PoolView, snapshot: Snapshot) -> str:
    """How the running jobs' ends were estimated, for the ETAs' basis."""
    kinds = [snapshot.end_basis.get(job.id) for job in view.running]
    epochs, limits = kinds.count(FROM_EPOCHS), kinds.count(FROM_LIMIT)
    unknown = len(kinds) - epochs - limits
    parts = [f"{epochs} running from epoch times" if epochs else "",
             f"{limits} from time limits" if limits else "",
             f"{unknown} unknown" if unknown else ""]
    return ", ".join(filter(None, parts))
