"""Start a training script in its own process group that dies with its worker; stop the group."""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
from typing import Sequence

_PR_SET_PDEATHSIG = 1


def set_parent_death_signal(sig: int) -> None:
    """Ask the kernel to send `sig` to this process when its parent dies (Linux prctl)."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)


def _child_setup(cpus: frozenset[int] | None, parent_pid: int):
    def setup() -> None:  # runs in the child between fork and exec: keep it tiny
        set_parent_death_signal(signal.SIGKILL)
        if os.getppid() != parent_pid:  # the worker died before prctl took effect
            os._exit(137)
        if cpus:
            os.sched_setaffinity(0, cpus)
    return setup


def spawn(argv: Sequence[str], env: dict[str, str], cwd: str,
          cpus: frozenset[int] | None = None) -> subprocess.Popen:
    """Never through a shell; own session, so signals reach the script and its children."""
    return subprocess.Popen(
        list(argv), env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, start_new_session=True, close_fds=True,
        preexec_fn=_child_setup(cpus, os.getpid()))


def signal_group(pgid: int, sig: int) -> bool:
    """Signal the whole group; False when nothing is left in it."""
    try:
        os.killpg(pgid, sig)
        return True
    except ProcessLookupError:
        return False


def stop_group(proc: subprocess.Popen, grace_seconds: float) -> None:
    """SIGTERM to the group, `grace_seconds` to exit, then SIGKILL to whatever is left."""
    signal_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        pass
    reap_group(proc)


def reap_group(proc: subprocess.Popen) -> None:
    """Kill what remains of the group (children the script left behind) and wait for the script."""
    signal_group(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 5
    while _group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.02)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        return f"killed by signal {signal.Signals(-returncode).name}"
    return f"exited with code {returncode}"
