"""Commit a placement: reserve its GPUs all-or-nothing (with the leader's epoch), then send one
message per instance to its host's queue. A reservation whose message never goes out is given
back here, or by the sweep if this process dies in between."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from app.metrics import record
from app.models import Job
from app.scheduler.model import Placement
from app.services.publishing import send_instances
from config.protocol import Allocation
from workers import allocations

log = logging.getLogger(__name__)


class LostLeadership(Exception):
    """A reservation carried an epoch that is no longer current: another scheduler leads."""


@dataclass
class Dispatcher:
    runtime: object
    redis: object
    fresh_seconds: float

    def commit(self, job: Job, placement: Placement, epoch: int) -> bool:
        """True when the job's instances are reserved and on their hosts' queues."""
        allocation = Allocation(job.id, job.attempt, epoch, placement.instances)
        verdict = allocations.reserve(self.redis, allocation, self.fresh_seconds)
        if verdict == allocations.STALE_EPOCH:
            raise LostLeadership(f"epoch {epoch} is no longer current")
        if verdict != allocations.RESERVED:
            # The picture was stale (a host went away, a GPU was taken): the next cycle re-plans.
            log.info("%s attempt %s not placed on %s: %s", job.id, job.attempt,
                     _where(placement), verdict)
            return False
        if not send_instances(self.runtime, job, allocation):
            allocations.release(self.redis, allocation)
            return False
        log.info("%s attempt %s placed on %s", job.id, job.attempt, _where(placement))
        record.job_dispatched(self.redis, job)
        return True


def _where(placement: Placement) -> str:
    return " + ".join(f"{i.host}[{','.join(i.gpus) or 'no GPU'}]" for i in placement.instances)
