"""Why a script stopped, and what that makes of its attempt: outcome, message, failure class."""
from __future__ import annotations

import signal
from enum import StrEnum

from config.protocol import FailureClass, Outcome
from workers.process import describe_exit

#: Lines in a script's last stderr that mean it ran out of memory (host or GPU).
_OOM_MARKERS = ("MemoryError", "CUDA out of memory", "OutOfMemoryError", "ResourceExhaustedError")


class Stop(StrEnum):
    """Why supervision ended (BEAT: it did not; a heartbeat was due and sent). Worker-internal."""
    EXITED = "exited"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    SUPERSEDED = "superseded"
    PREEMPTED = "preempted"
    BEAT = "beat"


def classify_exit(reason: Stop, code: int, stderr_tail: str, limit_ms: int | None,
                  preempted_by: str = "") -> tuple[Outcome, str | None, FailureClass | None]:
    """(outcome, message, failure class) of an attempt whose script has exited."""
    if reason == Stop.PREEMPTED:
        # Whatever the exit code: torchrun turns every signal into 1, a script may exit 143.
        return (Outcome.PREEMPTED, f"preempted: {preempted_by} (the script {describe_exit(code)})",
                FailureClass.PREEMPTED)
    if reason == Stop.CANCELLED:
        return Outcome.CANCELLED, "stopped by request while training", FailureClass.CANCELLED
    if reason == Stop.TIMEOUT:
        return (Outcome.FAILED,
                f"stopped: the job hit its time limit (max_running_time_ms={limit_ms})",
                FailureClass.TIMEOUT)
    if code == 0:
        return Outcome.COMPLETED, None, None
    message = (f"the script {describe_exit(code)}" + (f": {stderr_tail}" if stderr_tail else ""))
    message = message[-500:]
    if code == -signal.SIGKILL or any(marker in stderr_tail for marker in _OOM_MARKERS):
        # Nobody here sent SIGKILL: on Linux that is almost always the out-of-memory killer.
        hint = " (killed by SIGKILL: most likely out of memory)" if code == -signal.SIGKILL else ""
        return Outcome.FAILED, (message + hint)[-500:], FailureClass.OUT_OF_MEMORY
    return (Outcome.FAILED, message,
            FailureClass.KILLED_BY_SIGNAL if code < 0 else FailureClass.USER_ERROR)


def signal_name(code: int | None) -> str | None:
    return signal.Signals(-code).name if code is not None and code < 0 else None
