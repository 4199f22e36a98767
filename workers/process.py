"""Start a training script in its own process group that dies with its worker; stop it and
everything it started. A launcher such as torchrun puts its workers in sessions of their own, so
the group is not enough: the supervising process is a child subreaper (orphans of the script
become its children) and kills all of its descendants once the script is done."""
from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import time
from typing import Sequence

_PR_SET_PDEATHSIG, _PR_SET_CHILD_SUBREAPER = 1, 36


#: Resolved once, in the worker: the child between fork and exec then only calls it.
_prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl


def set_parent_death_signal(sig: int) -> None:
    """Ask the kernel to send `sig` to this process when its parent dies (Linux prctl)."""
    _prctl(_PR_SET_PDEATHSIG, sig)


def become_subreaper() -> None:
    """Orphaned descendants (a launcher's workers whose launcher died) become this process's
    children instead of init's, so kill_descendants still finds them."""
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)


def _child_setup(cpus: frozenset[int] | None, parent_pid: int):
    def setup() -> None:  # runs in the child between fork and exec: keep it tiny
        set_parent_death_signal(signal.SIGKILL)
        if os.getppid() != parent_pid:  # the worker died before prctl took effect
            os._exit(137)
        if cpus:
            os.sched_setaffinity(0, cpus)
    return setup


#: util-linux's setpriv sets the parent-death signal and execs the script. Through it the child
#: needs no Python between fork and exec, so Popen takes the vfork path: from a worker's pool
#: process a fork with preexec_fn took 10-14 ms of every start, this takes under 1 ms.
SETPRIV = shutil.which("setpriv")


def spawn(argv: Sequence[str], env: dict[str, str], cwd: str,
          cpus: frozenset[int] | None = None) -> subprocess.Popen:
    """Never through a shell; own session, so signals reach the script and its children; the
    script gets SIGKILL if this process dies."""
    options = dict(env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE, start_new_session=True, close_fds=True)
    if SETPRIV and not cpus:
        # What the Python setup also checks, that this process is still the parent once the
        # signal is set, it cannot: a worker killed in the millisecond between the fork and
        # setpriv's prctl leaves the script running; its lease then lapses and the attempt is
        # retried as for any lost worker.
        return subprocess.Popen([SETPRIV, "--pdeathsig", "KILL", "--", *argv], **options)
    return subprocess.Popen(list(argv), preexec_fn=_child_setup(cpus, os.getpid()), **options)


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
    """Kill what remains of the group and of this process's other descendants (what the script
    left behind, in its group or in sessions of their own) and wait for the script."""
    signal_group(proc.pid, signal.SIGKILL)
    proc.wait()
    kill_descendants()
    deadline = time.monotonic() + 5
    while _group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.02)


def kill_descendants(root: int | None = None) -> list[int]:
    """SIGKILL every living descendant of `root` (default: this process) and reap those that
    are its own children; returns the pids it killed."""
    root = os.getpid() if root is None else root
    killed = []
    for pid in descendants(root):
        try:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        except ProcessLookupError:
            pass
    _reap_children(time.monotonic() + 5 if killed else 0)
    return killed


def descendants(root: int) -> list[int]:
    """The pids below `root` in the process tree, read from /proc (children before none)."""
    children: dict[int, list[int]] = {}
    for stat in os.listdir("/proc"):
        if stat.isdigit():
            parent = _ppid(int(stat))
            if parent is not None:
                children.setdefault(parent, []).append(int(stat))
    found, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _ppid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _reap_children(deadline: float) -> None:
    """Collect the exit status of killed children (adopted orphans included): no zombies."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            if time.monotonic() >= deadline:
                return
            time.sleep(0.01)


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
