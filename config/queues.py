"""Queue naming: one Celery queue per (pool, priority level), consumed highest priority first."""
from __future__ import annotations

from config.pools import Pool

#: Job priorities, 0 (lowest) to 10 (highest); 5 when the caller gives none.
MIN_PRIORITY, MAX_PRIORITY, DEFAULT_PRIORITY = 0, 10, 5

#: Prefix of every training queue. No ':' in names: kombu uses it in binding keys.
QUEUE_PREFIX = "train"


def queue_name(pool: str, priority: int) -> str:
    """train.<pool>.p<NN>; zero-padded so names sort the way they are consumed."""
    if not MIN_PRIORITY <= priority <= MAX_PRIORITY:
        raise ValueError(f"priority {priority} outside {MIN_PRIORITY}..{MAX_PRIORITY}")
    return f"{QUEUE_PREFIX}.{pool}.p{priority:02d}"


def pool_queues(pool: str) -> list[str]:
    """A pool's queues in consumption order: highest priority first."""
    return [queue_name(pool, p) for p in range(MAX_PRIORITY, MIN_PRIORITY - 1, -1)]


def all_queues(pools: tuple[Pool, ...]) -> list[str]:
    return [q for pool in pools for q in pool_queues(pool.name)]

#: The Celery task every worker slot runs; a stable name, never the function's import path.
RUN_JOB_TASK = "trainq.run_job"
