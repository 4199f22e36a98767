"""The one Celery task a host runs, once per placed instance. Thin: the work is workers.runner."""
from __future__ import annotations

import logging
import signal

from config.queues import RUN_JOB_TASK
from workers.connections import worker_redis
from workers.host import Host
from workers.process import become_subreaper
from workers.runner import AttemptRun, Unreported, run_attempt

log = logging.getLogger(__name__)


def register_tasks(app) -> None:
    @app.task(name=RUN_JOB_TASK, bind=True, acks_late=True, ignore_result=True, shared=False)
    def run_job(self, job_id: str, attempt: int, spec: dict, allocation: str | None = None) -> str:
        """Run one attempt of a training job on the GPUs its allocation names on this host;
        `spec` is a TaskSpec's wire form, `allocation` an Allocation's (config.protocol)."""
        if allocation is None:
            log.warning("%s attempt %s: a message without an allocation (sent before the "
                        "scheduler existed) is dropped; the scheduler places it", job_id, attempt)
            return Unreported.SKIPPED
        settings = self.app.trainq_settings
        become_subreaper()   # what a launcher orphans is still ours to kill (workers.process)
        run = AttemptRun(job_id, int(attempt), spec, Host.from_env(), settings, allocation)
        # revoke(terminate=True) sends SIGTERM to this pool process: turn it into a clean stop
        # of the script's group instead of leaving the script orphaned, at once.
        previous = signal.signal(signal.SIGTERM, lambda *_: run.stop())
        try:
            return run_attempt(run, worker_redis(settings.redis_url))
        finally:
            signal.signal(signal.SIGTERM, previous)  # between jobs, the pool's own handling
