"""Run one attempt of a job: claim it, start the script, supervise it, report how it ended."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redis import exceptions as redis_errors

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
    taken = claims.claim(redis, run.job_id, run.attempt, run.owner)
    if taken != claims.CLAIMED:
        log.info("%s attempt %s skipped: %s", run.job_id, run.attempt, _SKIP_REASON[taken])
        return "skipped"
    try:
        outcome = _run_claimed(run, redis, EventPublisher(redis, run.job_id, run.attempt))
        claims.mark_done(redis, run.job_id, run.attempt)
        return outcome
    finally:
        claims.release(redis, run.job_id, run.attempt)


_SKIP_REASON = {claims.DUPLICATE: "already claimed (a second delivery of the same attempt)",
                claims.CANCELLED: "the job was stopped", claims.SUPERSEDED: "a newer attempt exists"}


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
    if reason == "superseded":
        log.warning("%s attempt %s was superseded; its script was stopped", run.job_id, run.attempt)
        return "superseded"  # the control plane already decided; events of this attempt are moot
    outcome, message, failure_class = classify_exit(run, reason, proc.returncode, shipper)
    events.finished(outcome, exit_code=proc.returncode, message=message,
                    failure_class=failure_class, exit_signal=signal_name(proc.returncode))
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
    """Wait for the script; 'exited', 'cancelled', 'timeout' or 'superseded' says why it ended."""
    limit_ms = run.spec.get("max_running_time_ms")
    deadline = time.monotonic() + limit_ms / 1000 if limit_ms else None
    next_beat = 0.0
    while proc.poll() is None:
        reason = _reason_to_stop(run, redis, deadline, next_beat)
        if reason == "beat":
            next_beat = time.monotonic() + run.settings.heartbeat_seconds
        elif reason:
            stop_group(proc, run.settings.stop_grace_seconds)
            return reason
        try:
            proc.wait(timeout=CANCEL_POLL_SECONDS)
        except subprocess.TimeoutExpired:
            pass
    return "exited"


def _reason_to_stop(run: AttemptRun, redis, deadline: float | None, next_beat: float) -> str | None:
    now = time.monotonic()
    if now >= next_beat:
        try:
            if not claims.heartbeat(redis, run.job_id, run.attempt, run.owner):
                return "superseded"
        except redis_errors.RedisError as exc:  # keep training through a broker blip
            log.warning("heartbeat for %s failed: %s", run.job_id, exc)
        return "beat"
    if run.stop_flag["set"] or _cancel_requested(redis, run.job_id):
        return "cancelled"
    if deadline is not None and now >= deadline:
        return "timeout"
    return None


def _cancel_requested(redis, job_id: str) -> bool:
    try:
        return claims.is_cancelled(redis, job_id)
    except redis_errors.RedisError:
        return False


#: Lines in a script's last stderr that mean it ran out of memory (host or GPU).
_OOM_MARKERS = ("MemoryError", "CUDA out of memory", "OutOfMemoryError", "ResourceExhaustedError")


def classify_exit(run: AttemptRun, reason: str, code: int, shipper: OutputShipper):
    """(outcome, message, failure class) of an attempt whose script has exited."""
    if reason == "cancelled":
        return "cancelled", "stopped by request while training", "cancelled"
    if reason == "timeout":
        limit = run.spec["max_running_time_ms"]
        return ("failed", f"stopped: the job hit its time limit (max_running_time_ms={limit})",
                "timeout")
    if code == 0:
        return "completed", None, None
    tail = shipper.stderr_message()
    message = (f"the script {describe_exit(code)}" + (f": {tail}" if tail else ""))[-500:]
    if code == -signal.SIGKILL or any(marker in tail for marker in _OOM_MARKERS):
        # Nobody here sent SIGKILL: on Linux that is almost always the out-of-memory killer.
        hint = " (killed by SIGKILL: most likely out of memory)" if code == -signal.SIGKILL else ""
        return "failed", (message + hint)[-500:], "out_of_memory"
    return "failed", message, "killed_by_signal" if code < 0 else "user_error"


def signal_name(code: int | None) -> str | None:
    return signal.Signals(-code).name if code is not None and code < 0 else None
