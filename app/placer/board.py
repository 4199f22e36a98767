"""The scheduler's latest plan of each pool, published in Redis for the queue-position API:
per waiting job its position, reason and ETA, and the pool's order (who is ahead of whom)."""
from __future__ import annotations

import json
from dataclasses import dataclass

from app.scheduler.model import QueueEntry
from config.keys import plan_key

#: A plan older than this is not shown as the scheduler's: the scheduler is down or stuck.
PLAN_TTL_SECONDS = 60
_AT, _ORDER = "_at", "_order"


@dataclass(frozen=True)
class BoardEntry:
    position: int
    reason: str
    message: str
    eta_seconds: float | None   # from the plan's time
    eta_basis: str
    planned_at: float
    ahead: tuple[str, ...]   # the ids before it, in order


def publish(redis, pool: str, queue: tuple[QueueEntry, ...], at: float, basis_note: str) -> None:
    key = plan_key(pool)
    pipe = redis.pipeline(transaction=True)
    pipe.delete(key)
    if queue:
        fields = {e.job_id: json.dumps([e.position, str(e.reason), e.message, e.eta_seconds,
                                        _basis(e, basis_note)]) for e in queue}
        fields[_AT], fields[_ORDER] = repr(at), json.dumps([e.job_id for e in queue])
        pipe.hset(key, mapping=fields)
        pipe.expire(key, PLAN_TTL_SECONDS)
    pipe.execute()


def read(redis, pool: str, job_id: str) -> BoardEntry | None:
    entry, at, order = redis.hmget(plan_key(pool), job_id, _AT, _ORDER)
    if entry is None or at is None:
        return None
    position, reason, message, eta, basis = json.loads(entry)
    ids = json.loads(order or "[]")
    return BoardEntry(position, reason, message, eta, basis, float(at),
                      tuple(ids[:position - 1]))


def _basis(entry: QueueEntry, note: str) -> str:
    return f"{entry.eta_basis} ({note})" if entry.eta_seconds is not None and note else \
        entry.eta_basis
