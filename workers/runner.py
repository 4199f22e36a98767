"""Run one attempt of a job: claim it, start the script, supervise it, report how it ended."""
from __future__ import annotations

import logging
import os
import queue
import subprocess
import time
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any

from redis import exceptions as redis_errors

from config.protocol import (CONTROL_PLANE_ENVS, RESERVED_ENV_PREFIXES, Allocation, EventKind,
                             FailureClass, InstanceAssignment, Outcome, PreemptRequest,
                             ProtocolError, TaskSpec)
from config.settings import Settings
from workers import allocations, gang as gangs, launch
from workers import claim as claims
from workers.datasets import dataset_env
from workers.environments import UnknownEnvironment, interpreter
from workers.events import EventPublisher
from workers.exits import Stop, classify_exit, signal_name
from workers.gang import Gang
from workers.output import OutputShipper
from workers.process import reap_group, spawn, stop_group
from workers.scripts import ScriptPathError, resolve_script
from workers.host import Host
from workers.wakeup import Wakeups

log = logging.getLogger(__name__)

#: How often the stop keys are read while announcements of stops cannot reach this worker
#: (pub/sub refused or lost), and while an instance waits for its gang.
CANCEL_POLL_SECONDS = 0.2


class Unreported(StrEnum):
    """What run_attempt returns when it sent no `finished` event; never on the wire."""
    SKIPPED = "skipped"  # another delivery owns the attempt, or the job was stopped or moved on
    SUPERSEDED = "superseded"  # the control plane moved the job to a newer attempt meanwhile


@dataclass
class AttemptRun:
    job_id: str
    attempt: int
    #: The spec as the message carries it; read only through `spec`.
    wire_spec: dict[str, Any]
    host: Host
    settings: Settings
    #: The allocation as the message carries it: the claim compares it with Redis byte for byte.
    wire_allocation: str
    stop_flag: dict = field(default_factory=lambda: {"set": False})
    #: Set when the scheduler takes the GPUs back: why, and the grace it gives.
    preempted: PreemptRequest | None = None
    #: Wakes the supervisor (workers.wakeup); a SimpleQueue, safe in a signal handler.
    wakeups: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)

    def stop(self) -> None:
        """Stop the script as a cancel would (the worker's SIGTERM handler calls this)."""
        self.stop_flag["set"] = True
        self.wakeups.put(None)

    @property
    def owner(self) -> str:
        return f"{self.host.name}/pid{os.getpid()}"

    @cached_property
    def allocation(self) -> Allocation:
        return Allocation.from_wire(self.wire_allocation)

    @cached_property
    def instance(self) -> InstanceAssignment:
        """This host's instance of the attempt (each instance of a gang is on its own host)."""
        return next((i for i in self.allocation.instances if i.host == self.host.name),
                    InstanceAssignment(0, self.host.name, ()))

    @property
    def rank(self) -> int:
        return self.instance.rank

    @property
    def gpus(self) -> tuple[str, ...]:
        """This host's GPUs in the allocation: exactly what the script may see."""
        return self.instance.gpus

    @property
    def gang_size(self) -> int:
        return len(self.allocation.instances)

    @cached_property
    def spec(self) -> TaskSpec:
        """Read after the claim: a spec this worker cannot read fails the attempt as a setup
        error the user sees, instead of leaving the job queued with nobody running it."""
        return TaskSpec.from_wire(self.wire_spec)


def run_attempt(run: AttemptRun, redis) -> Outcome | Unreported:
    """The attempt's outcome; SKIPPED when another delivery owns it, it was cancelled, or its
    allocation is no longer the one the message carries. Whoever ends the attempt here gives
    its GPUs back; a duplicate delivery leaves them to the delivery that runs it."""
    taken = claims.claim(redis, run.job_id, run.attempt, run.owner, run.wire_allocation,
                         run.rank)
    if taken != claims.CLAIMED:
        log.info("%s attempt %s skipped: %s", run.job_id, run.attempt, _SKIP_REASON[taken])
        if taken in (claims.CANCELLED, claims.SUPERSEDED):
            _give_back(run, redis)
        return Unreported.SKIPPED
    try:
        events = EventPublisher(redis, run.job_id, run.attempt, run.rank)
        outcome = _run_claimed(run, redis, events)
        claims.mark_done(redis, run.job_id, run.attempt, run.rank)
        return outcome
    finally:
        claims.release(redis, run.job_id, run.attempt, run.rank)
        _give_back(run, redis)


def _give_back(run: AttemptRun, redis) -> None:
    """This instance's GPUs; the allocation goes with the last instance of a gang to end."""
    try:
        allocations.release_instance(redis, run.allocation, run.host.name, run.host.pool)
    except (ProtocolError, redis_errors.RedisError) as exc:  # the scheduler's sweep will
        log.warning("%s attempt %s: could not give its GPUs back: %s", run.job_id, run.attempt,
                    exc)


_SKIP_REASON = {claims.DUPLICATE: "already claimed (a second delivery of the same attempt)",
                claims.CANCELLED: "the job was stopped", claims.SUPERSEDED: "a newer attempt exists",
                claims.FENCED: "the scheduler no longer places it here (its allocation changed)"}


def _run_claimed(run: AttemptRun, redis, events: EventPublisher) -> Outcome | Unreported:
    try:
        run.spec  # a spec this worker cannot read fails at once, not after its gang gathered
    except ProtocolError as exc:
        return _could_not_start(events, exc)
    gang = None
    if run.gang_size > 1:
        try:
            gang = _join_gang(run, redis)
        except OSError as exc:
            return _could_not_start(events, OSError(
                f"cannot listen on {run.host.addr} ({exc}); start the worker with --addr set "
                "to an address of this host that the other hosts reach"))
        if not isinstance(gang, Gang):
            return _report_unstarted(run, redis, gang, events)
    try:
        proc = _start(run, gang)
    except (ProtocolError, ScriptPathError, UnknownEnvironment, OSError) as exc:
        return _could_not_start(events, exc)
    events.send(EventKind.STARTED, {"worker": run.host.name, "pid": proc.pid,
                                    "gpus": ",".join(run.gpus), "pool": run.host.pool,
                                    "rank": run.rank})
    shipper = OutputShipper(events, proc.stdout, proc.stderr).start()
    reason = _supervise(run, redis, proc)
    reap_group(proc)  # also kills anything the script left behind in its group
    shipper.join()
    if reason == Stop.SUPERSEDED:
        log.warning("%s attempt %s was superseded; its script was stopped", run.job_id, run.attempt)
        return Unreported.SUPERSEDED  # the control plane already decided; its events are moot
    outcome, message, failure_class = classify_exit(
        reason, proc.returncode, shipper.stderr_message(), run.spec.max_running_time_ms,
        run.preempted.reason if run.preempted else "")
    events.finished(outcome, exit_code=proc.returncode, message=message,
                    failure_class=failure_class, exit_signal=signal_name(proc.returncode))
    return outcome


def _could_not_start(events: EventPublisher, exc: Exception) -> Outcome:
    events.finished(Outcome.FAILED, message=f"the script could not start: {exc}",
                    failure_class=FailureClass.SETUP_ERROR)
    return Outcome.FAILED


def _join_gang(run: AttemptRun, redis) -> Gang | Stop | None:
    """Publish where this instance listens and wait for every other instance to do so; the
    lease is kept alive meanwhile. A Stop when asked to stop first, None after the timeout."""
    port = gangs.free_port(run.host.addr)  # OSError: --addr is not this host's (caller says)
    gangs.publish(redis, run.job_id, run.attempt, run.rank, f"{run.host.addr}:{port}")
    deadline = time.monotonic() + run.settings.rendezvous_timeout_seconds
    next_beat = 0.0
    while time.monotonic() < deadline:
        endpoints = gangs.joined(redis, run.job_id, run.attempt, run.gang_size)
        if endpoints:
            return Gang(run.rank, endpoints)
        reason = _reason_to_stop(run, redis, None, next_beat)
        if reason == Stop.BEAT:
            next_beat = time.monotonic() + run.settings.heartbeat_seconds
        elif reason:
            return reason
        time.sleep(CANCEL_POLL_SECONDS)
    return None


def _report_unstarted(run: AttemptRun, redis, stop: Stop | None,
                      events: EventPublisher) -> Outcome | Unreported:
    """How an instance that never started its script (it waited for its gang) ended."""
    if stop == Stop.SUPERSEDED:
        return Unreported.SUPERSEDED
    if stop == Stop.CANCELLED:
        events.finished(Outcome.CANCELLED, message="stopped before its gang started",
                        failure_class=FailureClass.CANCELLED)
        return Outcome.CANCELLED
    if stop == Stop.PREEMPTED and run.preempted is not None:
        events.finished(Outcome.PREEMPTED, message=f"preempted: {run.preempted.reason} "
                        "(before its gang started)", failure_class=FailureClass.PREEMPTED)
        return Outcome.PREEMPTED
    absent = gangs.missing(redis, run.job_id, run.attempt, run.gang_size)
    events.finished(Outcome.FAILED, failure_class=FailureClass.SETUP_ERROR, message=(
        f"instance(s) {', '.join(map(str, absent)) or '?'} of {run.gang_size} did not join "
        f"within TRAINQ_RENDEZVOUS_TIMEOUT_SECONDS={run.settings.rendezvous_timeout_seconds:g}"
        "; check that their hosts run a worker and reach each other"))
    return Outcome.FAILED


def _start(run: AttemptRun, gang: Gang | None = None) -> subprocess.Popen:
    script = resolve_script(run.settings.script_root, run.spec.script_path)
    python = interpreter(run.host.envs, run.spec.env_id, run.host.name)
    dirs = _job_dirs(run)
    env = {**_script_env(run, dirs), **launch.gang_env(run.spec, gang)}
    return spawn(launch.command(run.spec, script, run.gpus, gang, python), env,
                 cwd=str(dirs["TRAINQ_OUTPUT_DIR"]), cpus=run.host.cpus)


def _job_dirs(run: AttemptRun) -> dict[str, Path]:
    base = run.settings.work_dir / run.job_id
    dirs = {"TRAINQ_CHECKPOINT_DIR": base / "checkpoints", "TRAINQ_OUTPUT_DIR": base / "output"}
    if run.spec.tb_summary_path:  # seed 004's TensorBoard logs, inside the job's output
        tb = (dirs["TRAINQ_OUTPUT_DIR"] / run.spec.tb_summary_path).resolve()
        if tb.is_relative_to(dirs["TRAINQ_OUTPUT_DIR"].resolve()):
            dirs["TRAINQ_TB_DIR"] = tb
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    return dirs


def _script_env(run: AttemptRun, dirs: dict[str, Path]) -> dict[str, str]:
    # The worker's own TRAINQ_* settings (Redis URL, secrets) are not the script's business.
    env = {k: v for k, v in os.environ.items() if not k.startswith(RESERVED_ENV_PREFIXES)}
    env.update({k: v for k, v in run.spec.envs.items()
                if not k.startswith(RESERVED_ENV_PREFIXES) or k in CONTROL_PLANE_ENVS})
    env.update({k: str(v) for k, v in dirs.items()})
    # Empty CUDA_VISIBLE_DEVICES hides every GPU: a 0-GPU job must not grab one it was not given.
    env.update({"CUDA_VISIBLE_DEVICES": ",".join(run.gpus), "TRAINQ_HOST": run.host.name,
                "TRAINQ_JOB_ID": run.job_id, "TRAINQ_ATTEMPT": str(run.attempt),
                "PYTHONUNBUFFERED": "1"})
    env.update(dataset_env(run.spec, run.settings.dataset_root))
    return env


def _supervise(run: AttemptRun, redis, proc: subprocess.Popen) -> Stop:
    """Wait for the script; the Stop says why it ended. A stop reaches the script when it is
    announced, not at a poll; the wake-ups end with the script."""
    limit_ms = run.spec.max_running_time_ms
    deadline = time.monotonic() + limit_ms / 1000 if limit_ms else None
    with Wakeups(run.wakeups, redis, run.job_id, proc) as wakeups:
        reason = _watch(run, redis, proc, wakeups, deadline)
        if reason != Stop.EXITED:
            stop_group(proc, _grace(run, reason))
    return reason


def _watch(run: AttemptRun, redis, proc: subprocess.Popen, wakeups: Wakeups,
           deadline: float | None) -> Stop:
    """Re-read the stop keys at every wake-up; sleep until the next heartbeat or the time
    limit otherwise (the subscription is live already: nothing can fall between)."""
    next_beat = 0.0
    while proc.poll() is None:
        reason = _reason_to_stop(run, redis, deadline, next_beat)
        if reason == Stop.BEAT:
            next_beat = time.monotonic() + run.settings.heartbeat_seconds
            continue  # a beat reads no stop key: read them now
        if reason:
            return reason
        wakeups.wait(_asleep(wakeups, deadline, next_beat))
    return Stop.EXITED


def _asleep(wakeups: Wakeups, deadline: float | None, next_beat: float) -> float:
    """Seconds until the next heartbeat or the time limit; no longer than the old poll while
    stops are not announced to us."""
    until = next_beat if deadline is None else min(next_beat, deadline)
    seconds = until - time.monotonic()
    return seconds if wakeups.listening else min(seconds, CANCEL_POLL_SECONDS)


def _reason_to_stop(run: AttemptRun, redis, deadline: float | None,
                    next_beat: float) -> Stop | None:
    now = time.monotonic()
    if now >= next_beat:
        try:
            if not claims.heartbeat(redis, run.job_id, run.attempt, run.owner, run.rank):
                return Stop.SUPERSEDED
            allocations.reassert(redis, run.allocation, run.host.name)  # after a Redis flush
        except redis_errors.RedisError as exc:  # keep training through a broker blip
            log.warning("heartbeat for %s failed: %s", run.job_id, exc)
        return Stop.BEAT
    if run.stop_flag["set"]:
        return Stop.CANCELLED
    stop = _stop_requested(run, redis)
    if stop is not None:
        return stop
    if deadline is not None and now >= deadline:
        return Stop.TIMEOUT
    return None


def _stop_requested(run: AttemptRun, redis) -> Stop | None:
    """CANCELLED (a stop by request wins), PREEMPTED, or SUPERSEDED when the control plane
    ended the attempt's gang (another instance failed or was lost), as Redis says; None through
    a blip."""
    try:
        asked = claims.stop_requests(redis, run.job_id, run.attempt)
    except redis_errors.RedisError:
        return None
    if asked.cancelled:
        return Stop.CANCELLED
    if asked.preempt is not None:
        run.preempted = PreemptRequest.from_wire(asked.preempt)
        return Stop.PREEMPTED
    if asked.gang_ended is not None:
        log.warning("%s attempt %s rank %s: stopping, its gang ended (%s)", run.job_id,
                    run.attempt, run.rank, asked.gang_ended)
        return Stop.SUPERSEDED
    return None


def _grace(run: AttemptRun, reason: Stop) -> float:
    if reason == Stop.PREEMPTED and run.preempted is not None:
        return run.preempted.grace_seconds
    return run.settings.stop_grace_seconds
