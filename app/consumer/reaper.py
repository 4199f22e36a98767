"""Find attempts whose worker stopped sending heartbeats, and hand them to recovery."""
from __future__ import annotations

import logging

from sqlalchemy import or_, select

from app.domain.status import JobStatus
from app.models import Job
from app.services.recovery import handle_lost_worker
from config.keys import claim_key, lease_key
from workers.claim import DONE, parse_lease

log = logging.getLogger(__name__)
CANDIDATES_PER_ROUND = 1000


class Reaper:
    def __init__(self, runtime, redis):
        self.runtime, self.redis = runtime, redis
        #: (job, attempt) -> server time a claimed attempt was first seen without any lease;
        #: a flushed Redis loses leases that live workers re-create at their next heartbeat.
        self.missing_since: dict[tuple[str, int], int] = {}

    def run_once(self) -> list[tuple[str, str]]:
        """One sweep; returns (job id, 'retried' | 'failed') for every lost attempt it handled."""
        now = int(self.redis.time()[0])
        handled = []
        for job_id, attempt, status in self._candidates():
            silent_for = self._silence(job_id, attempt, status, now)
            if silent_for is None:
                continue
            with self.runtime.db.write() as session:
                verdict = handle_lost_worker(session, self.redis, job_id, attempt, silent_for,
                                             self.runtime.settings.notify_url)
            if verdict:
                log.warning("%s attempt %s: worker lost after %.0fs of silence; %s", job_id,
                            attempt, silent_for, verdict)
                handled.append((job_id, verdict))
        return handled

    def _candidates(self) -> list[tuple[str, int, str]]:
        """Training jobs, and queued ones whose message was sent (a worker may hold them)."""
        with self.runtime.db.read() as session:
            rows = session.execute(select(Job.id, Job.attempt, Job.status).where(or_(
                Job.status == JobStatus.TRAINING.value,
                (Job.status == JobStatus.QUEUED.value) & Job.published_at.is_not(None)))
                .limit(CANDIDATES_PER_ROUND)).all()
        return [(row.id, row.attempt, row.status) for row in rows]

    def _silence(self, job_id: str, attempt: int, status: str, now: int) -> float | None:
        """Seconds the attempt's worker has been silent, if longer than the lease allows."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.get(lease_key(job_id, attempt))
        pipe.exists(claim_key(job_id, attempt))
        lease, claimed = pipe.execute()
        parsed, key = parse_lease(lease), (job_id, attempt)
        if parsed is None:
            if not claimed and status == JobStatus.QUEUED.value:
                return None  # still waiting in its queue
            # A training job whose lease is gone: a live worker re-creates it at its next
            # heartbeat (Redis lost its data); a dead one never will.
            since = self.missing_since.setdefault(key, now)
            silent = now - since
        else:
            self.missing_since.pop(key, None)
            if parsed[0] == DONE:
                return None  # finished; the consumer is about to record how
            silent = now - parsed[1]
        return silent if silent > self.runtime.settings.lease_seconds else None
