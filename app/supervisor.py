"""`trainq up`: the whole system on one machine, in the foreground; Ctrl-C stops all of it.

A service that exits on its own (the OOM killer took the worker, the consumer crashed) is
restarted with capped backoff while the others keep serving; what it was running is recovered
the usual way (lease, retry). A service that keeps dying at start-up is a configuration problem
that restarting cannot fix: then `trainq up` stops, saying which service and why."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from app.local import local_secrets_env
from config.settings import Settings
from workers.host import FoundGpu, NvmlUnavailable, nvml_gpus
from workers.process import describe_exit, set_parent_death_signal, signal_group

STOP_TIMEOUT_SECONDS = 15
#: Backoff between restarts: doubles from the first value up to the cap.
RESTART_BACKOFF_SECONDS, RESTART_BACKOFF_CAP_SECONDS = 0.5, 30.0
#: A service that lived shorter than this died "at start-up".
STARTUP_SECONDS = 10.0
#: A service that lived this long was healthy: its backoff starts again from the first value.
STABLE_SECONDS = 60.0
#: This many start-up deaths in a row, and `trainq up` gives up.
MAX_STARTUP_FAILURES = 5
TAIL_LINES = 20


#: The pool `trainq up` serves this machine's NVIDIA GPUs in.
GPU_POOL = "gpu"
CLI = [sys.executable, "-m", "app.cli"]


def _services(settings: Settings, gpus: tuple[FoundGpu, ...]) -> dict[str, list[str]]:
    cpu_pool = min(settings.pools, key=lambda p: p.gpus)
    services = {"api": [*CLI, "api"], "scheduler": [*CLI, "scheduler"],
                "consumer": [*CLI, "consumer"],
                "worker": [*CLI, "worker", "--pool", cpu_pool.name,
                           "--name", f"{cpu_pool.name}-local"],
                "flower": [*CLI, "flower"]}
    if gpus and settings.pool(GPU_POOL) is not None:
        services["gpu-worker"] = [*CLI, "worker", "--pool", GPU_POOL, "--name", "gpu-local",
                                  "--gpus", ",".join(gpu.uuid for gpu in gpus)]
    return services


def _local_gpus(settings: Settings) -> tuple[tuple[FoundGpu, ...], list[str]]:
    """This machine's NVIDIA GPUs, and the lines that tell the operator what was found."""
    try:
        gpus = nvml_gpus()
    except NvmlUnavailable as exc:
        return (), [f"GPUs           none: NVML is not available ({exc}); only the cpu worker runs"]
    if not gpus:
        return (), ["GPUs           none: NVML found no device; only the cpu worker runs"]
    lines = [f"GPUs           {len(gpus)} found by NVML:",
             *(f"               {i}: {gpu.name}, {gpu.memory_gib:g} GiB, {gpu.uuid}"
               for i, gpu in enumerate(gpus))]
    return gpus, lines + [_gpu_pool_line(settings)]


def _gpu_pool_line(settings: Settings) -> str:
    pools = {pool.name for pool in settings.pools}
    if GPU_POOL in pools:
        return f"               served by the worker host 'gpu-local' in pool {GPU_POOL!r}"
    return (f"               not served: TRAINQ_POOLS declares no pool {GPU_POOL!r} "
            f"(it has {', '.join(sorted(pools))}); add e.g. {GPU_POOL}=1")


@dataclass
class Service:
    """One supervised process; its output is echoed with its name and the last lines kept."""

    name: str
    argv: list[str]
    env: dict[str, str]
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    startup_failures: int = 0  # deaths at start-up in a row
    deaths: int = 0  # deaths in a row without a stable run between them
    restart_at: float | None = None
    tail: deque = field(default_factory=lambda: deque(maxlen=TAIL_LINES))

    def start(self) -> None:
        self.proc = subprocess.Popen(self.argv, env=self.env, start_new_session=True,
                                     preexec_fn=_die_with_supervisor, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.started_at, self.restart_at = time.monotonic(), None
        threading.Thread(target=self._echo, args=(self.proc.stdout,), daemon=True).start()

    def _echo(self, stream) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.tail.append(line)
            print(f"{self.name:<9} | {line}", flush=True)
        stream.close()

    def exited(self) -> bool:
        return self.proc is not None and self.restart_at is None and self.proc.poll() is not None


def run_local_stack(settings: Settings) -> int:
    extra, notes = local_secrets_env(settings.var_dir, dict(os.environ))
    env = {**os.environ, **extra, "TRAINQ_VAR_DIR": str(settings.var_dir)}
    if subprocess.run([sys.executable, "-m", "app.cli", "db", "upgrade"], env=env).returncode:
        return 1
    gpus, gpu_notes = _local_gpus(settings)
    services = [Service(name, argv, env) for name, argv in _services(settings, gpus).items()]
    for service in services:
        service.start()
    _announce(settings, [*gpu_notes, *notes])
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    code = _supervise(services, stopping)
    _stop_all(services)
    return code


def _die_with_supervisor() -> None:
    """In each child before exec: if `trainq up` itself is killed, its services get SIGTERM."""
    set_parent_death_signal(signal.SIGTERM)


def _announce(settings: Settings, notes: list[str]) -> None:
    lines = [f"trainq API     http://{settings.api_host}:{settings.api_port}  (GET /healthz)",
             f"Flower         http://{settings.flower_host}:{settings.flower_port}  "
             f"(user {settings.flower_username!r})", *notes,
             "Ctrl-C stops everything."]
    for line in lines:
        _say(line)


def _supervise(services: list[Service], stopping: threading.Event) -> int:
    """Until Ctrl-C or SIGTERM (0), or until a service keeps dying at start-up (1)."""
    while not stopping.wait(0.2):
        for service in services:
            if service.exited() and not _schedule_restart(service):
                return 1
            if service.restart_at is not None and time.monotonic() >= service.restart_at:
                _say(f"restarting {service.name}")
                service.start()
    return 0


def _schedule_restart(service: Service) -> bool:
    """Plan the restart of a service that exited on its own; False when it is hopeless."""
    lived = time.monotonic() - service.started_at
    signal_group(service.proc.pid, signal.SIGKILL)  # what it left behind: a pool child, a script
    status = describe_exit(service.proc.returncode)
    service.startup_failures = service.startup_failures + 1 if lived < STARTUP_SECONDS else 0
    service.deaths = service.deaths + 1 if lived < STABLE_SECONDS else 1
    if service.startup_failures >= MAX_STARTUP_FAILURES:
        last = "\n".join(f"    {line}" for line in list(service.tail)[-8:]) or "    (no output)"
        _say(f"{service.name} keeps dying at start-up ({service.startup_failures} times in a "
             f"row, last {status}); stopping everything. Its last output:\n{last}", error=True)
        return False
    delay = min(RESTART_BACKOFF_CAP_SECONDS, RESTART_BACKOFF_SECONDS * 2 ** (service.deaths - 1))
    service.restart_at = time.monotonic() + delay
    _say(f"{service.name} {status} after {lived:.1f}s; restarting it in {delay:.1f}s "
         "(the other services keep running)", error=True)
    return True


def _say(message: str, error: bool = False) -> None:
    print(f"[trainq up] {message}", file=sys.stderr if error else sys.stdout, flush=True)


def _stop_all(services: list[Service]) -> None:
    _say("stopping…")
    running = [s.proc for s in services if s.proc is not None]
    for proc in running:
        signal_group(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for proc in running:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        signal_group(proc.pid, signal.SIGKILL)  # a running job's script dies with its worker
        proc.wait()

