"""Every Redis key and stream name trainq uses, in one place."""
from __future__ import annotations

#: The stream workers append events to and the result consumer reads.
EVENTS_STREAM = "trainq:events"
#: The consumer group of the result consumers.
CONSUMER_GROUP = "trainq-consumers"
#: Approximate cap of the events stream, should its consumers be down for long: the oldest
#: entries beyond it are trimmed. A consumer deletes each entry once it has acknowledged it.
EVENTS_MAXLEN = 1_000_000


def cancel_key(job_id: str) -> str:
    """Set by the API when a job is stopped; a worker never starts or keeps running it."""
    return f"trainq:cancel:{job_id}"


def claim_key(job_id: str, attempt: int, rank: int = 0) -> str:
    """Taken once per instance of an attempt (SET NX); a second delivery finds it and is dropped.
    Rank 0's key is the attempt's own (a single-instance job has only rank 0)."""
    return f"trainq:claim:{job_id}:{attempt}{_rank_suffix(rank, ':r')}"


def lease_key(job_id: str, attempt: int, rank: int = 0) -> str:
    """Kept alive by the heartbeats of the worker running that instance; expires when it is gone."""
    return f"trainq:lease:{job_id}:{attempt}{_rank_suffix(rank, ':r')}"


def _rank_suffix(rank: int, sep: str) -> str:
    return f"{sep}{rank}" if rank else ""


def attempt_key(job_id: str) -> str:
    """The job's current attempt, mirrored from the database by the control plane when it retries;
    a worker running an older attempt sees it at its next heartbeat and stops its script."""
    return f"trainq:attempt:{job_id}"


def login_failures_key(scope: str, value: str) -> str:
    """Failed logins of one username or one client address in the current window (INCR, TTL).
    The value is hashed: it comes from the request and must not shape the key space."""
    import hashlib

    return f"trainq:login-failures:{scope}:{hashlib.sha256(value.encode()).hexdigest()[:32]}"

#: Sorted set of "<job>|<attempt>" members claimed by a worker and not finished yet; the reaper
#: reads it to find attempts whose `started` event never reached the database.
CLAIMED_SET = "trainq:claimed"
#: Written by the scheduler; if it is gone, Redis lost its data (flush, restart without
#: persistence), and with it which GPUs running jobs hold: it places nothing until their
#: workers have re-asserted that.
SENTINEL_KEY = "trainq:sentinel"


def claimed_member(job_id: str, attempt: int, rank: int = 0) -> str:
    """"<job>|<attempt>", or "<job>|<attempt>|<rank>" for the other instances of a gang."""
    return f"{job_id}|{attempt}{_rank_suffix(rank, '|')}"


def parse_claimed_member(member: str) -> tuple[str, int, int] | None:
    """(job, attempt, rank) of a claimed_member; None for a member this version cannot read."""
    parts = member.split("|")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts[1:]):
        return None
    return parts[0], int(parts[1]), int(parts[2]) if len(parts) == 3 else 0


# --- Placement: hosts, their GPUs, allocations and the scheduler's leadership -------------------

#: Names of the hosts that ever registered (a host's own hash says whether it is alive).
HOSTS_SET = "trainq:hosts"
#: Set of "<job>|<attempt>" members with an allocation: the reaper returns GPUs of the ones whose
#: attempt ended, moved on or lost its host.
ALLOCATIONS_SET = "trainq:allocations"
#: Leader lock of `trainq scheduler` (SET NX PX; value: the holder) and its fencing epoch (INCR
#: at every takeover; every reservation carries it and fails when it is no longer current).
SCHEDULER_LOCK = "trainq:scheduler:leader"
SCHEDULER_EPOCH = "trainq:scheduler:epoch"
#: A list the scheduler blocks on: the API and workers push to it when placement may change
#: (a job submitted, GPUs given back), so a placement never waits on a timer.
SCHEDULER_WAKE = "trainq:scheduler:wake"
#: Set of the pools whose placement changed since the scheduler last looked, pushed with every
#: wake-up: it re-plans those first instead of every pool. EVERY_POOL: any pool may have.
SCHEDULER_DIRTY = "trainq:scheduler:dirty"
EVERY_POOL = "*"


def host_key(name: str) -> str:
    """Hash of a registered host: pool, gpus (comma separated, in index order), slots, cpus,
    seen (Redis server time of its last heartbeat). Re-written by every heartbeat."""
    return f"trainq:host:{name}"


def host_jobs_key(name: str) -> str:
    """Hash "<job>|<attempt>" -> the host's GPU ids it holds (comma separated). Its length is the
    slots in use; the union of its values the GPUs in use. Only the Lua scripts change it."""
    return f"trainq:host:{name}:jobs"


def allocation_key(job_id: str, attempt: int) -> str:
    """The attempt's allocation (config.protocol.Allocation, compact JSON). A worker runs an
    attempt only if this still says what its message says (fencing)."""
    return f"trainq:alloc:{job_id}:{attempt}"


def preempt_key(job_id: str, attempt: int) -> str:
    """Set by the scheduler to take an attempt's GPUs back (config.protocol.PreemptRequest). The
    worker stops the script (SIGTERM, the grace it names, SIGKILL) and reports `preempted`."""
    return f"trainq:preempt:{job_id}:{attempt}"


def rendezvous_key(job_id: str, attempt: int) -> str:
    """Hash rank -> "<addr>:<port>" of each instance of a multi-host attempt; every instance
    starts its script once all are there (rank 0's is torchrun's master, all of them TF_CONFIG)."""
    return f"trainq:rdzv:{job_id}:{attempt}"


def gang_end_key(job_id: str, attempt: int) -> str:
    """Set by the control plane when an attempt ended before all its instances did (one failed,
    or its host was lost): every instance still running stops at once (value: why)."""
    return f"trainq:gang-end:{job_id}:{attempt}"


def stop_channel(job_id: str) -> str:
    """Pub/sub channel that wakes the supervisor of every instance of the job as soon as one of
    cancel_key, preempt_key or gang_end_key is set for it. Only a wake-up: the keys stay the
    truth, so a lost message delays that stop to the next heartbeat, no further."""
    return f"trainq:stop:{job_id}"


def holds_key(pool: str) -> str:
    """Hash job id -> GPUs the scheduler keeps for it while its victims stop (JSON: host, gpus,
    until); no other job of the pool is placed on them meanwhile."""
    return f"trainq:holds:{pool}"


def plan_key(pool: str) -> str:
    """Hash job id -> its queue entry in the scheduler's latest plan of the pool (JSON), with
    "_at" the plan's time; read by GET /api/v1/training/jobs/{id}/queue."""
    return f"trainq:plan:{pool}"


def metric_key(name: str) -> str:
    """Hash of one Prometheus metric that counts events (app/metrics/store.py): the scheduler
    and the consumer add to it, every API process reads it at a scrape, so all of them answer
    the same. Fields "<label values>|<bucket bound>" and "<label values>|sum"."""
    return f"trainq:metrics:{name}"
