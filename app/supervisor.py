"""`trainq up`: the whole system on one machine, in the foreground; Ctrl-C stops all of it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from app.local import local_secrets_env
from config.settings import Settings
from workers.process import set_parent_death_signal

STOP_TIMEOUT_SECONDS = 15


def _services(settings: Settings) -> dict[str, list[str]]:
    cli = [sys.executable, "-m", "app.cli"]
    cpu_pool = min(settings.pools, key=lambda p: p.gpus)
    return {"api": [*cli, "api"], "consumer": [*cli, "consumer"],
            "worker": [*cli, "worker", "--pool", cpu_pool.name, "--name", f"{cpu_pool.name}-local"],
            "flower": [*cli, "flower"]}


def run_local_stack(settings: Settings) -> int:
    extra, notes = local_secrets_env(settings.var_dir, dict(os.environ))
    env = {**os.environ, **extra, "TRAINQ_VAR_DIR": str(settings.var_dir)}
    if subprocess.run([sys.executable, "-m", "app.cli", "db", "upgrade"], env=env).returncode:
        return 1
    children = {name: subprocess.Popen(argv, env=env, start_new_session=True,
                                       preexec_fn=_die_with_supervisor)
                for name, argv in _services(settings).items()}
    _announce(settings, notes)
    stopping = {"flag": False}
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.__setitem__("flag", True))
    code = _wait(children, stopping)
    _stop_all(children)
    return code


def _die_with_supervisor() -> None:
    """In each child before exec: if `trainq up` itself is killed, its services get SIGTERM."""
    set_parent_death_signal(signal.SIGTERM)


def _announce(settings: Settings, notes: list[str]) -> None:
    lines = [f"trainq API     http://{settings.api_host}:{settings.api_port}  (GET /healthz)",
             f"Flower         http://{settings.flower_host}:{settings.flower_port}  "
             f"(user {settings.flower_username!r})", *notes,
             "Ctrl-C stops everything."]
    print("\n".join(f"[trainq up] {line}" for line in lines), flush=True)


def _wait(children: dict[str, subprocess.Popen], stopping: dict) -> int:
    while not stopping["flag"]:
        for name, child in children.items():
            if child.poll() is not None:
                print(f"[trainq up] {name} exited with {child.returncode}; stopping the rest",
                      file=sys.stderr, flush=True)
                return 1
        time.sleep(0.5)
    return 0


def _stop_all(children: dict[str, subprocess.Popen]) -> None:
    print("[trainq up] stopping…", flush=True)
    for child in children.values():
        _signal(child, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for child in children.values():
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal(child, signal.SIGKILL)  # a running job's script dies with its worker
            child.wait()


def _signal(child: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(child.pid, sig)
    except ProcessLookupError:
        pass
