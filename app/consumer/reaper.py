"""Find attempts whose worker stopped sending heartbeats, and hand them to recovery."""
from __future__ import annotations

import logging

from sqlalchemy import or_, select

from app.domain.status import JobStatus
from app.models import Job
from app.services.recovery import handle_lost_worker
from config.keys import CLAIMED_SET, claimed_member, lease_key
from config.protocol import parse_lease

log = logging.getLogger(__name__)


class Reaper:
    def __init__(self, runtime, redis):
        self.runtime, self.redis = runtime, redis
        #: (job, attempt) -> server time an attempt was first seen without any lease: a live
        #: worker re-creates a lease Redis lost at its next heartbeat; a dead one never does.
        self.missing_since: dict[tuple[str, int], int] = {}

    def run_once(self) -> list[tuple[str, str]]:
        """One sweep; returns (job id, 'retried' | 'failed') for every lost attempt it handled."""
        now = int(self.redis.time()[0])
        candidates = self._candidates()
        watched = set(candidates)
        self.missing_since = {k: v for k, v in self.missing_since.items() if k in watched}
        leases = self._leases(candidates)
        handled = []
        for (job_id, attempt), lease in zip(candidates, leases):
            silent_for = self._silence((job_id, attempt), lease, now)
            if silent_for is not None:
                handled.append((job_id, self._recover(job_id, attempt, silent_for)))
        return [(job_id, verdict) for job_id, verdict in handled if verdict]

    def _candidates(self) -> list[tuple[str, int]]:
        """Every training job, and queued jobs a worker claimed before `started` was recorded."""
        claimed = self._claimed()
        with self.runtime.db.read() as session:
            rows = session.execute(select(Job.id, Job.attempt, Job.status).where(or_(
                Job.status == JobStatus.TRAINING.value,
                Job.id.in_(list({job_id for job_id, _ in claimed}))))).all()
        current = {(row.id, row.attempt) for row in rows if not JobStatus(row.status).is_terminal}
        stale = [pair for pair in claimed if pair not in current]
        if stale:  # finished, retried or deleted meanwhile: nothing to watch any more
            self.redis.zrem(CLAIMED_SET, *(claimed_member(*pair) for pair in stale))
        training = {(row.id, row.attempt) for row in rows
                    if row.status == JobStatus.TRAINING.value}
        return sorted(training | (current & set(claimed)))

    def _claimed(self) -> list[tuple[str, int]]:
        pairs = []
        for member in self.redis.zrange(CLAIMED_SET, 0, -1):
            job_id, _, attempt = member.rpartition("|")
            if attempt.isdigit():
                pairs.append((job_id, int(attempt)))
        return pairs

    def _leases(self, candidates: list[tuple[str, int]]) -> list[str | None]:
        pipe = self.redis.pipeline(transaction=False)
        for job_id, attempt in candidates:
            pipe.get(lease_key(job_id, attempt))
        return pipe.execute() if candidates else []

    def _silence(self, key: tuple[str, int], lease: str | None, now: int) -> float | None:
        """Seconds the attempt's worker has been silent, if longer than the lease allows."""
        parsed = parse_lease(lease)
        if parsed is None:
            silent = now - self.missing_since.setdefault(key, now)
        else:
            self.missing_since.pop(key, None)
            if parsed.done:
                return None  # finished; the consumer is about to record how
            silent = now - parsed.server_time
        return silent if silent > self.runtime.settings.lease_seconds else None

    def _recover(self, job_id: str, attempt: int, silent_for: float) -> str | None:
        with self.runtime.db.write() as session:
            verdict = handle_lost_worker(session, self.redis, job_id, attempt, silent_for,
                                         self.runtime.settings.notify_url)
        if verdict:
            self.redis.zrem(CLAIMED_SET, claimed_member(job_id, attempt))
            log.warning("%s attempt %s: worker lost after %.0fs of silence; %s", job_id, attempt,
                        silent_for, verdict)
        self.missing_since.pop((job_id, attempt), None)
        return verdict
