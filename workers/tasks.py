"""The one Celery task a worker slot runs. Thin: everything happens in workers.runner."""
from __future__ import annotations

import signal
from functools import lru_cache

import redis as redis_lib

from config.queues import RUN_JOB_TASK
from workers.runner import AttemptRun, run_attempt
from workers.slot import Slot


@lru_cache(maxsize=1)
def _redis(url: str) -> redis_lib.Redis:
    # socket_timeout above any blocking call we make; events and claims are short commands.
    return redis_lib.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=5,
                                    decode_responses=True)


def register_tasks(app) -> None:
    @app.task(name=RUN_JOB_TASK, bind=True, acks_late=True, ignore_result=True, shared=False)
    def run_job(self, job_id: str, attempt: int, spec: dict) -> str:
        """Run one attempt of a training job on this slot; `spec` is a TaskSpec's wire form."""
        settings = self.app.trainq_settings
        run = AttemptRun(job_id, int(attempt), spec, Slot.from_env(), settings)
        # revoke(terminate=True) sends SIGTERM to this pool process: turn it into a clean stop
        # of the script's group instead of leaving the script orphaned.
        previous = signal.signal(signal.SIGTERM, lambda *_: run.stop_flag.__setitem__("set", True))
        try:
            return run_attempt(run, _redis(settings.redis_url))
        finally:
            signal.signal(signal.SIGTERM, previous)  # between jobs, the pool's own handling
