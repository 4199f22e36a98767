"""Give back GPUs nobody will give back: allocations whose attempt ended, moved on or lost its
host (no live lease), and allocations whose message no worker claimed within a lease (the
scheduler died before sending it, or the host died before taking it)."""
from __future__ import annotations

import logging
import math

from sqlalchemy import select

from app.domain.status import JobStatus
from app.models import Job
from config.keys import ALLOCATIONS_SET, allocation_key, claim_key, lease_key
from config.protocol import Allocation, ProtocolError, parse_lease
from workers import allocations
from workers.hosts import read_hosts

log = logging.getLogger(__name__)


class Sweep:
    def __init__(self, runtime, redis):
        self.runtime, self.redis = runtime, redis
        self.lease_seconds = runtime.settings.lease_seconds
        self._next = 0   # where the next part of a spread pass starts, by rank

    def run_once(self) -> int:
        """One pass over every allocation; returns how many it gave back."""
        return self._settle_all(self.redis.zrange(ALLOCATIONS_SET, 0, -1, withscores=True))

    def run_part(self, share: float) -> int:
        """The next `share` (0 to 1) of the allocations, oldest first, wrapping around: the
        scheduler spreads a pass over its interval, so no cycle pays for a whole pass (1,600
        running jobs: about 100 ms). One given back by anyone else meanwhile shifts the ranks
        after it, so an allocation may wait for the next pass: at most twice the interval."""
        total = self.redis.zcard(ALLOCATIONS_SET)
        if not total:
            return 0
        start = self._next if self._next < total else 0
        count = max(1, math.ceil(total * min(1.0, share)))
        freed = self._settle_all(self.redis.zrange(ALLOCATIONS_SET, start, start + count - 1,
                                                   withscores=True))
        self._next = start + count - freed   # those after the part moved up by as many
        return freed

    def _settle_all(self, held: list[tuple[str, float]]) -> int:
        if not held:
            return 0
        now = int(self.redis.time()[0])
        pairs = [_pair(member) for member, _ in held]
        jobs = self._jobs({job_id for job_id, _ in pairs})
        facts = self._facts(pairs)
        freed = 0
        for (member, reserved_at), (job_id, attempt), fact in zip(held, pairs, facts):
            freed += self._settle(member, jobs.get(job_id), attempt, now - reserved_at, now, *fact)
        return freed

    def _jobs(self, ids: set[str]) -> dict[str, tuple[int, str]]:
        with self.runtime.db.read() as session:
            rows = session.execute(select(Job.id, Job.attempt, Job.status)
                                   .where(Job.id.in_(list(ids))))
            return {row.id: (row.attempt, row.status) for row in rows}

    def _facts(self, pairs: list[tuple[str, int]]) -> list[tuple[str | None, list, int]]:
        """Per allocation: its wire form, its instances' leases, how many instances claimed it."""
        pipe = self.redis.pipeline(transaction=False)
        for job_id, attempt in pairs:
            pipe.get(allocation_key(job_id, attempt))
        wires = pipe.execute()
        ranks = [_ranks(wire) for wire in wires]
        for (job_id, attempt), held in zip(pairs, ranks):
            for rank in held:
                pipe.get(lease_key(job_id, attempt, rank))
            pipe.exists(*(claim_key(job_id, attempt, rank) for rank in held))
        replies = iter(pipe.execute())
        return [(wire, [next(replies) for _ in held], next(replies))
                for wire, held in zip(wires, ranks)]

    def _settle(self, member: str, job: tuple[int, str] | None, attempt: int, age: float,
                now: int, wire: str | None, leases: list, claimed: int) -> int:
        if wire is None:
            allocations.forget(self.redis, member, [h.name for h in read_hosts(self.redis)[1]])
            return 1
        try:
            allocation = Allocation.from_wire(wire)
        except ProtocolError as exc:
            log.error("allocation %s cannot be read (%s); leaving it", member, exc)
            return 0
        current = job is not None and job[0] == attempt and not JobStatus(job[1]).is_terminal
        if not current and not any(self._live(lease, now) for lease in leases):
            return self._give_back(allocation, "its attempt is over and no worker holds it")
        if current and not claimed and age > self.lease_seconds:
            if allocations.release_unclaimed(self.redis, allocation):
                log.warning("%s: no worker took it within %.0fs; placing it again", member, age)
                return 1
        return 0

    def _live(self, lease: str | None, now: int) -> bool:
        parsed = parse_lease(lease)
        return (parsed is not None and not parsed.done
                and now - parsed.server_time <= self.lease_seconds)

    def _give_back(self, allocation: Allocation, why: str) -> int:
        if allocations.release(self.redis, allocation):
            log.info("%s attempt %s: GPUs given back (%s)", allocation.job_id, allocation.attempt,
                     why)
            return 1
        return 0


def _ranks(wire: str | None) -> range:
    """The instances an allocation has (rank 0 alone when it cannot be read: _settle says why)."""
    try:
        return range(len(Allocation.from_wire(wire).instances)) if wire else range(1)
    except ProtocolError:
        return range(1)


def _pair(member: str) -> tuple[str, int]:
    job_id, _, attempt = member.rpartition("|")
    return job_id, int(attempt) if attempt.isdigit() else 0
