"""The scheduler's latest plan of each pool, published in Redis for the queue-position API:
per waiting job its position, reason and ETA, and the pool's order (who is ahead of whom)."""
from __future__ import annotations

import json
from dataclasses import dataclass

from app.scheduler.model import QueueEntry
from config.keys import plan_key

#: A plan older than this is not shown as the scheduler's: the scheduler is down or stuck.
PLAN_TTL_SECONDS = 60
#: One document per pool, its entries in queue order: a field per job cost the scheduler a
#: JSON encoding and a protocol argument each (10,000 queued: 100 ms a refresh, twice a
#: second), while one document is one C-speed encoding. A reader decodes the whole queue,
#: which it needs anyway for the ids ahead of its job.
_AT, _QUEUE = "_at", "_queue"


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
        entries = [[e.job_id, e.position, str(e.reason), e.message, e.eta_seconds,
                    _basis(e, basis_note)] for e in queue]
        pipe.hset(key, mapping={_AT: repr(at), _QUEUE: json.dumps(entries)})
        pipe.expire(key, PLAN_TTL_SECONDS)
    pipe.execute()


def read(redis, pool: str, job_id: str) -> BoardEntry | None:
    at, queue = redis.hmget(plan_key(pool), _AT, _QUEUE)
    if at is None or queue is None:
        return None
    entries = json.loads(queue)
    index = next((i for i, entry in enumerate(entries) if entry[0] == job_id), None)
    if index is None:
        return None
    _id, position, reason, message, eta, basis = entries[index]
    return BoardEntry(position, reason, message, eta, basis, float(at),
                      tuple(entry[0] for entry in entries[:position - 1]))


def _basis(entry: QueueEntry, note: str) -> str:
    return f"{entry.eta_basis} ({note})" if entry.eta_seconds is not None and note else \
        entry.eta_basis
