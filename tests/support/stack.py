"""Start trainq's real processes (API, consumer, workers) for a test session, and stop them."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Service:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path):
        self.name, self.argv, self.env = name, argv, env
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Service":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 60) -> None:
        """Until the log says `text`; a service that never does is stopped (nobody else
        holds it yet: left running, it would lead or take work from later tests' stacks)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log():
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log()[-3000:]}")
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"{self.name} never logged {text!r}:\n{self.log()[-3000:]}")

    def stop(self, timeout: float = 15) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        _killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            _killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def trainq(*args: str) -> list[str]:
    return [sys.executable, "-m", "app.cli", *args]


def start_worker(pool: str, gpus: str, name: str, env: dict, log_dir: Path,
                 *extra: str) -> Service:
    """A worker host; returns once it has registered (the scheduler may place work on it)."""
    service = Service(f"worker-{name}", trainq("worker", "--pool", pool, "--gpus", gpus,
                                               "--name", name, *extra), env, log_dir).start()
    service.wait_for_log(f"host {name} registered", timeout=60)
    return service


def start_scheduler(env: dict, log_dir: Path, name: str = "scheduler",
                    expect: str = "leading with epoch") -> Service:
    """A scheduler; returns once it leads (or, with expect="standing by", stands by)."""
    service = Service(name, trainq("scheduler"), env, log_dir).start()
    service.wait_for_log(expect, timeout=60)
    return service


def start_api(env: dict, log_dir: Path, base_url: str) -> Service:
    service = Service("api", trainq("api", "--workers", "2"), env, log_dir).start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(base_url + "/healthz", timeout=5).status_code == 200:
                return service
        except requests.RequestException:  # refused or slow while it starts on a busy machine
            pass
        if service.proc.poll() is not None:
            break
        time.sleep(0.1)
    service.stop()
    raise RuntimeError(f"API did not become healthy:\n{service.log()[-3000:]}")


def _killpg(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
