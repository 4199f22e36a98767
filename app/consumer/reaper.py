"""Find attempts whose worker stopped sending heartbeats, and hand them to recovery."""
from __future__ import annotations

import logging

from sqlalchemy import or_, select

from app.domain.status import JobStatus
from app.models import Job
from app.services.recovery import conclude_gang_failure, handle_lost_worker
from config.keys import CLAIMED_SET, claimed_member, lease_key, parse_claimed_member
from config.protocol import parse_lease

log = logging.getLogger(__name__)


class Reaper:
    def __init__(self, runtime, redis):
        self.runtime, self.redis = runtime, redis
        #: (job, attempt, rank) -> server time an instance was first seen without any lease: a
        #: live worker re-creates a lease Redis lost at its next heartbeat; a dead one never does.
        self.missing_since: dict[tuple[str, int, int], int] = {}

    def run_once(self) -> list[tuple[str, str]]:
        """One sweep; returns (job id, 'retried' | 'failed') for every lost attempt it handled.
        An attempt is lost when any of its instances is: a gang ends and retries as a whole."""
        now = int(self.redis.time()[0])
        claimed = self._claimed()
        candidates = self._candidates(claimed)
        instances = self._instances(candidates)
        watched = set(instances)
        self.missing_since = {k: v for k, v in self.missing_since.items() if k in watched}
        silences: dict[tuple[str, int], tuple[float, int]] = {}
        undone: set[tuple[str, int]] = set()   # attempts with an instance still going
        for key, lease in zip(instances, self._leases(instances)):
            silent_for = self._silence(key, lease, now)
            if silent_for is not None and silent_for > silences.get(key[:2], (-1, 0))[0]:
                silences[key[:2]] = (silent_for, key[2])
            if not _done(lease):
                undone.add(key[:2])
        handled = [(job_id, self._recover(job_id, attempt, silent, rank, claimed))
                   for (job_id, attempt), (silent, rank) in silences.items()]
        handled += [(job_id, self._conclude(job_id, attempt))
                    for (job_id, attempt), count in candidates.items()
                    if count > 1 and (job_id, attempt) not in undone]
        return [(job_id, verdict) for job_id, verdict in handled if verdict]

    def _candidates(self, claimed: dict[tuple[str, int], list[str]]) -> dict[tuple[str, int], int]:
        """(job, attempt) -> instance count of every training job, and of queued jobs a worker
        claimed (an instance of) before `started` was recorded."""
        with self.runtime.db.read() as session:
            rows = session.execute(select(Job.id, Job.attempt, Job.status, Job.instance_count)
                                   .where(or_(Job.status == JobStatus.TRAINING.value,
                                              Job.id.in_(list({j for j, _ in claimed}))))).all()
        current = {(row.id, row.attempt): row.instance_count or 1 for row in rows
                   if not JobStatus(row.status).is_terminal}
        stale = [member for pair, members in claimed.items() if pair not in current
                 for member in members]
        if stale:  # finished, retried or deleted meanwhile: nothing to watch any more
            self.redis.zrem(CLAIMED_SET, *stale)
        training = {(row.id, row.attempt) for row in rows
                    if row.status == JobStatus.TRAINING.value}
        return {pair: count for pair, count in sorted(current.items())
                if pair in training or pair in claimed}

    def _claimed(self) -> dict[tuple[str, int], list[str]]:
        """(job, attempt) -> the claimed-set members of its instances."""
        pairs: dict[tuple[str, int], list[str]] = {}
        for member in self.redis.zrange(CLAIMED_SET, 0, -1):
            parsed = parse_claimed_member(member)
            if parsed is not None:
                pairs.setdefault(parsed[:2], []).append(member)
        return pairs

    @staticmethod
    def _instances(candidates: dict[tuple[str, int], int]) -> list[tuple[str, int, int]]:
        return [(job_id, attempt, rank) for (job_id, attempt), count in candidates.items()
                for rank in range(count)]

    def _leases(self, instances: list[tuple[str, int, int]]) -> list[str | None]:
        pipe = self.redis.pipeline(transaction=False)
        for job_id, attempt, rank in instances:
            pipe.get(lease_key(job_id, attempt, rank))
        return pipe.execute() if instances else []

    def _silence(self, key: tuple[str, int, int], lease: str | None, now: int) -> float | None:
        """Seconds the instance's worker has been silent, if longer than the lease allows."""
        parsed = parse_lease(lease)
        if parsed is None:
            silent = now - self.missing_since.setdefault(key, now)
        else:
            self.missing_since.pop(key, None)
            if parsed.done:
                return None  # finished; the consumer is about to record how
            silent = now - parsed.server_time
        return silent if silent > self.runtime.settings.lease_seconds else None

    def _conclude(self, job_id: str, attempt: int) -> str | None:
        """A multi-host attempt none of whose instances was lost: an instance's failure stands."""
        with self.runtime.db.write() as session:
            verdict = conclude_gang_failure(session, self.redis, job_id, attempt,
                                            self.runtime.settings.notify_url)
        if verdict:
            log.warning("%s attempt %s: an instance failed and none was lost; %s", job_id,
                        attempt, verdict)
        return verdict

    def _recover(self, job_id: str, attempt: int, silent_for: float, rank: int,
                 claimed: dict[tuple[str, int], list[str]]) -> str | None:
        with self.runtime.db.write() as session:
            verdict = handle_lost_worker(session, self.redis, job_id, attempt, silent_for,
                                         self.runtime.settings.notify_url, rank)
        if verdict:
            members = claimed.get((job_id, attempt)) or [claimed_member(job_id, attempt)]
            self.redis.zrem(CLAIMED_SET, *members)
            log.warning("%s attempt %s: worker of instance %s lost after %.0fs of silence; %s",
                        job_id, attempt, rank, silent_for, verdict)
        self.missing_since = {k: v for k, v in self.missing_since.items()
                              if k[:2] != (job_id, attempt)}
        return verdict


def _done(lease: str | None) -> bool:
    parsed = parse_lease(lease)
    return parsed is not None and parsed.done
