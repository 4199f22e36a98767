"""Queue naming. Pending jobs wait in the scheduler's queue of their pool, ordered by priority
(`train.<pool>.pNN` names that place in job details); Celery carries only placed work, on one
queue per host (`host.<name>`), which that host's worker alone consumes."""
from __future__ import annotations

#: Job priorities, 0 (lowest) to 10 (highest); 5 when the caller gives none.
MIN_PRIORITY, MAX_PRIORITY, DEFAULT_PRIORITY = 0, 10, 5

#: Prefix of every training queue. No ':' in names: kombu uses it in binding keys.
QUEUE_PREFIX = "train"


def queue_name(pool: str, priority: int) -> str:
    """train.<pool>.p<NN>: the pool's pending queue at one priority; zero-padded so names sort
    the way the scheduler serves them."""
    if not MIN_PRIORITY <= priority <= MAX_PRIORITY:
        raise ValueError(f"priority {priority} outside {MIN_PRIORITY}..{MAX_PRIORITY}")
    return f"{QUEUE_PREFIX}.{pool}.p{priority:02d}"


def pool_queues(pool: str) -> list[str]:
    """A pool's pending queues in the order the scheduler serves them: highest priority first."""
    return [queue_name(pool, p) for p in range(MAX_PRIORITY, MIN_PRIORITY - 1, -1)]


#: Prefix of the Celery queue of each host.
HOST_QUEUE_PREFIX = "host"


def host_queue(host: str) -> str:
    """The Celery queue the scheduler sends a host's placed work to."""
    return f"{HOST_QUEUE_PREFIX}.{host}"

#: The Celery task a host runs for each placed instance; a stable name, never an import path.
RUN_JOB_TASK = "trainq.run_job"
