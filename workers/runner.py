"""Run one attempt of a job: claim it, start the script, supervise it, report how it ended."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.services.scripts import ScriptPathError, resolve_script
from config.settings import Settings
from workers import claim as claims
from workers.events import EventPublisher
from workers.output import OutputShipper
from workers.process import describe_exit, reap_group, spawn, stop_group
from workers.slot import Slot

log = logging.getLogger(__name__)

CANCEL_POLL_SECONDS = 0.2
#: Environment a user's envs may not override: the slot's pinning and trainq's own variables.
RESERVED_ENV_PREFIXES = ("TRAINQ_", "CUDA_VISIBLE_DEVICES")


@dataclass
class AttemptRun:
    job_id: str
    attempt: int
    spec: dict[str, Any]
    slot: Slot
    settings: Settings
    stop_flag: dict = field(default_factory=lambda: {"set": False})

    @property
    def owner(self) -> str:
        return f"{self.slot.name}/pid{os.getpid()}"


def run_attempt(run: AttemptRun, redis) -> str:
    """The attempt's outcome, or 'skipped' when another delivery owns it or it was cancelled."""
    taken = claims.claim(redis, run.job_id, run.attempt, run.owner, run.settings.lease_seconds)
    if taken != claims.CLAIMED:
        log.info("%s attempt %s skipped (%s)", run.job_id, run.attempt,
                 "cancelled" if taken == claims.CANCELLED else "already claimed")
        return "skipped"
    events = EventPublisher(redis, run.job_id, run.attempt)
    try:
        return _run_claimed(run, redis, events)
    finally:
        claims.release_lease(redis, run.job_id, run.attempt)


def _run_claimed(run: AttemptRun, redis, events: EventPublisher) -> str:
    try:
        proc = _start(run)
    except (ScriptPathError, OSError) as exc:
        events.finished("failed", message=f"the script could not start: {exc}",
                        failure_class="setup_error")
        return "failed"
    events.send("started", {"worker": run.slot.name, "gpus": run.slot.cuda_visible_devices,
                            "pid": proc.pid, "pool": run.slot.pool})
    shipper = OutputShipper(events, proc.stdout, proc.stderr).start()
    reason = _supervise(run, redis, proc)
    reap_group(proc)  # also kills anything the script left behind in its group
    shipper.join()
    outcome, message, failure_class = _outcome(run, reason, proc.returncode, shipper)
    events.finished(outcome, exit_code=proc.returncode, message=message,
                    failure_class=failure_class)
    return outcome


def _start(run: AttemptRun) -> subprocess.Popen:
    script = resolve_script(run.settings.script_root, run.spec["script_path"])
    dirs = _job_dirs(run)
    argv = [sys.executable, str(script), *run.spec.get("args", [])]
    return spawn(argv, _script_env(run, dirs), cwd=str(dirs["TRAINQ_OUTPUT_DIR"]),
                 cpus=run.slot.cpus)


def _job_dirs(run: AttemptRun) -> dict[str, Path]:
    base = run.settings.work_dir / run.job_id
    dirs = {"TRAINQ_CHECKPOINT_DIR": base / "checkpoints", "TRAINQ_OUTPUT_DIR": base / "output"}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    return dirs


def _script_env(run: AttemptRun, dirs: dict[str, Path]) -> dict[str, str]:
    # The worker's own TRAINQ_* settings (Redis URL, secrets) are not the script's business.
    env = {k: v for k, v in os.environ.items() if not k.startswith(RESERVED_ENV_PREFIXES)}
    env.update({k: v for k, v in run.spec.get("envs", {}).items()
                if not k.startswith(RESERVED_ENV_PREFIXES)})
    env.update({k: str(v) for k, v in dirs.items()})
    env.update({"CUDA_VISIBLE_DEVICES": run.slot.cuda_visible_devices,
                "TRAINQ_JOB_ID": run.job_id, "TRAINQ_ATTEMPT": str(run.attempt),
                "PYTHONUNBUFFERED": "1"})
    if run.spec.get("dataset_id") is not None:
        env["TRAINQ_DATASET_DIR"] = str(run.settings.dataset_root / str(run.spec["dataset_id"]))
    return env


def _supervise(run: AttemptRun, redis, proc: subprocess.Popen) -> str:
    """Wait for the script; 'exited', 'cancelled' or 'timeout' says why waiting ended."""
    limit_ms = run.spec.get("max_running_time_ms")
    deadline = time.monotonic() + limit_ms / 1000 if limit_ms else None
    next_beat = 0.0
    while proc.poll() is None:
        now = time.monotonic()
        if now >= next_beat:
            claims.renew_lease(redis, run.job_id, run.attempt, run.owner, run.settings.lease_seconds)
            next_beat = now + run.settings.heartbeat_seconds
        if run.stop_flag["set"] or claims.is_cancelled(redis, run.job_id):
            stop_group(proc, run.settings.stop_grace_seconds)
            return "cancelled"
        if deadline is not None and now >= deadline:
            stop_group(proc, run.settings.stop_grace_seconds)
            return "timeout"
        try:
            proc.wait(timeout=CANCEL_POLL_SECONDS)
        except subprocess.TimeoutExpired:
            pass
    return "exited"


def _outcome(run: AttemptRun, reason: str, code: int, shipper: OutputShipper):
    if reason == "cancelled":
        return "cancelled", "stopped by request while training", "cancelled"
    if reason == "timeout":
        limit = run.spec["max_running_time_ms"]
        return "failed", f"stopped: the job hit its time limit (max_running_time_ms={limit})", \
            "timeout"
    if code == 0:
        return "completed", None, None
    tail = shipper.stderr_message()
    message = f"the script {describe_exit(code)}" + (f": {tail}" if tail else "")
    return "failed", message[-500:], "killed_by_signal" if code < 0 else "user_error"
