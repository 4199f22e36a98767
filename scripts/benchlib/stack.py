"""The benchmark's stack: what tests/conftest.py starts, in a temporary folder (the API under
gunicorn, the result consumer, the scheduler and one one-slot `cpu` host), on SQLite or a
scratch PostgreSQL database, with a Redis database it FLUSHes before and after."""
from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import redis as redis_lib

from tests.support.client import ApiClient
from tests.support.receiver import WebhookReceiver
from tests.support.stack import Service, free_port, start_api, start_scheduler, start_worker, trainq

ROOT = Path(__file__).resolve().parents[2]

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
ADMIN_PASSWORD = "bench-" + secrets.token_hex(8)
POLL_SECONDS = 0.02  # how often the benchmark asks the API while it waits for a status
UP_SECONDS = 0.1  # after the slot marks the previous job done, for its task to return

#: Scripts the benchmark submits, written into the temporary TRAINQ_SCRIPT_ROOT.
BENCH_SCRIPTS = {
    "bench_hello.py": (
        "import time; print(repr(time.time()), flush=True)\n"
        "import sys\n"
        "time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 0.0)\n"
        "print('end', repr(time.time()), flush=True)\n"),
    "bench_epochs.py": (
        "import time; print(repr(time.time()), flush=True)\n"
        "import json, sys\n"
        "total = int(sys.argv[1])\n"
        "for i in range(1, total + 1):\n"
        "    print('##trainq ' + json.dumps({'epoch': i, 'total_epochs': total, 'loss': 1 / i,\n"
        "                                    'accuracy': 1 - 1 / (i + 1)}))\n"
        "print('emitted', repr(time.time()), flush=True)\n"),
    "bench_steps.py": (
        "import json, sys, time\n"
        "print(repr(time.time()), flush=True)\n"
        "total = int(sys.argv[1])\n"
        "for i in range(total):\n"
        "    print('##trainq ' + json.dumps({'step': i, 'loss': 1 / (i + 1), 'lr': 0.001}))\n"
        "sys.stdout.flush()\n"),
    "bench_sleep.py": (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))\n"
        "print('ready', flush=True)\n"
        "time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 600)\n"),
}




@dataclass
class Stack:
    base_url: str
    env: dict[str, str]
    services: dict[str, Service]
    script_root: Path
    redis: redis_lib.Redis
    receiver: WebhookReceiver   # where every job's status webhooks go

    @property
    def redis_pid(self) -> int:
        return int(self.redis.info("server")["process_id"])

    def client(self) -> ApiClient:
        return ApiClient.login(self.base_url, "admin", ADMIN_PASSWORD)

    def wait_webhooks_delivered(self, timeout: float = 300) -> float:
        """Until no webhook waits for delivery (the consumer has caught up); the seconds it
        took. Thousands of jobs submitted leave thousands of status webhooks behind them, and
        a latency measured while the consumer sends those is the backlog's, not the path's."""
        from sqlalchemy import create_engine, func, select

        from app.models import WebhookDelivery

        engine, started = create_engine(self.env["TRAINQ_DATABASE_URL"]), time.monotonic()
        waiting = select(func.count()).select_from(WebhookDelivery).where(
            WebhookDelivery.state == "pending")
        try:
            while time.monotonic() - started < timeout:
                with engine.connect() as connection:
                    if not connection.scalar(waiting):
                        return time.monotonic() - started
                time.sleep(0.2)
        finally:
            engine.dispose()
        raise TimeoutError(f"webhooks still waiting for delivery after {timeout:.0f}s")


@contextlib.contextmanager
def running_stack(args):
    """The temporary folder, database, Redis db and processes; all gone when the block ends."""
    with tempfile.TemporaryDirectory(prefix="trainq-bench-") as tmp, \
            scratch_database(args.database_url, Path(tmp)) as database_url:
        root = Path(tmp)
        script_root = prepare_scripts(root / "scripts")
        receiver = WebhookReceiver().start()   # webhooks on, as users run it
        env = stack_env(args, database_url, root / "var", script_root, receiver.url)
        redis = flushed_redis(args.redis_url)
        services: dict[str, Service] = {}
        try:
            migrate(env)
            start_services(env, root / "logs", args.api_workers, services,
                           getattr(args, "hosts", 1), getattr(args, "step_jobs", 0))
            stack = Stack(f"http://127.0.0.1:{env['TRAINQ_API_PORT']}", env, services,
                          script_root, redis, receiver)
            lift_queue_limit(stack.client())
            yield stack
        except Exception:
            print_log_tails(services)
            raise
        finally:
            for service in reversed(list(services.values())):
                service.stop()
            receiver.stop()
            with contextlib.suppress(redis_lib.RedisError):  # never hide why the run ended
                redis.flushdb()
            progress(f"stopped the stack; FLUSHDB on {args.redis_url} again")


def lift_queue_limit(client: ApiClient) -> None:
    """The default workspace queues at most 1,000 jobs; the benchmark queues thousands."""
    response = client.request("PATCH", "/api/v1/admin/workspaces/1",
                              json={"max_queued_jobs": None})
    if response.status_code != 200:
        raise RuntimeError(f"could not lift the queue limit: {response.text[:300]}")


def print_log_tails(services: dict[str, Service], chars: int = 2000) -> None:
    """What each process logged last: the logs live in the temporary folder about to go."""
    for name, service in services.items():
        with contextlib.suppress(OSError):
            print(f"--- end of the {name} log ---\n{service.log()[-chars:]}", file=sys.stderr)


@contextlib.contextmanager
def scratch_database(url: str | None, tmp: Path):
    """SQLite in the temporary folder; for a PostgreSQL URL, a new database on that server."""
    if not url:
        yield f"sqlite:///{tmp / 'trainq.db'}"
        return
    from sqlalchemy.engine import make_url

    from tests.support.databases import scratch_postgres

    if make_url(url).get_backend_name() != "postgresql":
        yield url
        return
    with scratch_postgres(url, "trainq_bench") as scratch:
        yield scratch


def prepare_scripts(script_root: Path) -> Path:
    script_root.mkdir(parents=True)
    for source in (ROOT / "scripts" / "examples").glob("*.py"):
        shutil.copy(source, script_root / source.name)
    for name, text in BENCH_SCRIPTS.items():
        (script_root / name).write_text(text)
    return script_root


def stack_env(args, database_url: str, var: Path, script_root: Path,
              notify_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINQ_")}
    env.update({
        "PYTHONPATH": str(ROOT), "TRAINQ_DATABASE_URL": database_url,
        "TRAINQ_REDIS_URL": args.redis_url, "TRAINQ_VAR_DIR": str(var),
        "TRAINQ_SCRIPT_ROOT": str(script_root), "TRAINQ_POOLS": "cpu=0,idle=2,steps=0",
        "TRAINQ_SECRET_KEY": secrets.token_hex(32), "TRAINQ_ADMIN_USERNAME": "admin",
        "TRAINQ_ADMIN_PASSWORD": ADMIN_PASSWORD, "TRAINQ_API_PORT": str(free_port()),
        "TRAINQ_STOP_GRACE_SECONDS": "5", "TRAINQ_LOG_LEVEL": "INFO",
        "TRAINQ_NOTIFY_URL": notify_url, "TRAINQ_NOTIFY_ALLOW_CIDRS": "127.0.0.0/8",
    })
    return env


def flushed_redis(url: str) -> redis_lib.Redis:
    redis = redis_lib.Redis.from_url(url, decode_responses=True)
    redis.flushdb()
    progress(f"FLUSHDB on {url} (the benchmark's scratch Redis database)")
    return redis


def migrate(env: dict[str, str]) -> None:
    result = subprocess.run(trainq("db", "upgrade"), env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"trainq db upgrade failed:\n{result.stderr[-3000:]}")


def start_services(env, logs: Path, api_workers: int, services: dict[str, Service],
                   hosts: int = 1, step_slots: int = 0) -> None:
    """Fills `services` as it goes, so whatever started is stopped even if a later one fails.
    The first host is "worker"; more are "worker-2", "worker-3", … (one slot each); with
    `step_slots`, "steps" is a host of the `steps` pool with that many slots."""
    logs.mkdir()
    base_url = f"http://127.0.0.1:{env['TRAINQ_API_PORT']}"
    progress(f"starting API ({api_workers} gunicorn workers), consumer, scheduler and "
             f"{hosts} one-slot cpu host(s)")
    services["api"] = start_api_workers(env, logs, base_url, api_workers)
    services["consumer"] = Service("consumer", trainq("consumer"), env, logs).start()
    services["scheduler"] = start_scheduler(env, logs)
    services["worker"] = start_worker("cpu", "", "bench-cpu", env, logs)
    for n in range(2, hosts + 1):
        services[f"worker-{n}"] = start_worker("cpu", "", f"bench-cpu-{n}", env, logs)
    if step_slots:
        services["steps"] = start_worker("steps", "", "bench-steps", env, logs,
                                         "--slots", str(step_slots))


def start_api_workers(env, logs: Path, base_url: str, workers: int) -> Service:
    """tests.support.stack.start_api (2 workers), or the same with another worker count."""
    if workers == 2:
        return start_api(env, logs, base_url)
    service = Service("api", trainq("api", "--workers", str(workers)), env, logs).start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and service.proc.poll() is None:
        with contextlib.suppress(Exception):
            if ApiClient(base_url).request("GET", "/healthz").status_code == 200:
                return service
        time.sleep(0.1)
    raise RuntimeError(f"API did not become healthy:\n{service.log()[-3000:]}")


def progress(message: str) -> None:
    print(f"[bench] {message}", flush=True)
