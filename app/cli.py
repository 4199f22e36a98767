"""The `trainq` command: serve the API, run workers, the consumer, Flower, and admin tasks;
and the user commands over the HTTP API (login, submit, ls, logs, …)."""
from __future__ import annotations

import argparse
import logging
import os
import sys

from app.cli_admin import add_admin_commands
from app.cli_datasets import add_dataset_commands
from app.cli_models import add_model_commands
from app.cli_user import add_user_commands
from config.queues import host_queue
from config.settings import Settings, SettingsError


def cmd_db_upgrade(args, settings: Settings) -> int:
    from app import schema
    from app.runtime import Runtime
    from app.services.auth import ensure_admin

    runtime = Runtime(settings)
    schema.upgrade(runtime.db)
    with runtime.db.write() as session:
        created = ensure_admin(session, settings.admin_username, settings.admin_password)
    print(f"database at {_safe_url(settings.database_url)} is up to date"
          + (f"; created admin user {settings.admin_username!r}" if created else ""))
    return 0


def cmd_api(args, settings: Settings) -> int:
    # The worker class reads requests on an event loop (app/http_worker.py): idle and slow
    # clients hold no thread. --timeout only bounds a worker whose loop stops answering.
    argv = [sys.executable, "-m", "gunicorn", "--bind", f"{settings.api_host}:{settings.api_port}",
            "--workers", str(args.workers or settings.api_workers),
            "--worker-class", "app.http_worker.ApiWorker", "--timeout", "60",
            "--graceful-timeout", "10", "app:create_app()"]
    os.execv(sys.executable, argv)


def cmd_worker(args, settings: Settings) -> int:
    host = _worker_host(args, settings)
    os.environ.update(host.env())
    argv = [sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker",
            "-n", f"{host.name}@%h", "-Q", host_queue(host.name), "-P", "prefork",
            "-c", str(host.slots), "--prefetch-multiplier", "1", "-O", "fair", "-E",
            "--without-gossip", "-l", args.loglevel or settings.log_level]
    os.execv(sys.executable, argv)


def _worker_host(args, settings: Settings):
    """The host `trainq worker` registers; every mistake is a SettingsError that says why."""
    import socket

    from workers.environments import parse_envs
    from workers.host import (Host, check_host_name, default_addr, default_slots, parse_cpus,
                              parse_gpus)

    pool = settings.pool(args.pool)
    if pool is None:
        raise SettingsError(f"unknown pool {args.pool!r}; TRAINQ_POOLS declares: "
                            + ", ".join(p.name for p in settings.pools))
    gpus = parse_gpus(args.gpus)
    if args.slots is not None and args.slots < 1:
        raise SettingsError(f"--slots must be 1 or more, got {args.slots}")
    name = check_host_name(args.name or socket.gethostname())
    return Host(pool.name, gpus, parse_cpus(args.cpus) if args.cpus else None, name,
                args.slots or default_slots(gpus), args.addr or default_addr(),
                parse_envs(args.env))


def cmd_scheduler(args, settings: Settings) -> int:
    from app.placer.service import run_scheduler

    return run_scheduler(settings)


def cmd_consumer(args, settings: Settings) -> int:
    from app.consumer.service import run_consumer_service

    return run_consumer_service(settings, args.name)


def cmd_flower(args, settings: Settings) -> int:
    from workers.flower import run_flower

    if not settings.flower_password:
        raise SettingsError("Flower needs a password: set TRAINQ_FLOWER_PASSWORD "
                            "(or TRAINQ_ADMIN_PASSWORD, which it uses by default)")
    run_flower(settings)
    return 0


def cmd_up(args, settings: Settings) -> int:
    from app.supervisor import run_local_stack

    return run_local_stack(settings)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trainq", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="create or upgrade the schema; create the admin user"
                  ).set_defaults(func=cmd_db_upgrade)
    api = sub.add_parser("api", help="serve the HTTP API with gunicorn")
    api.add_argument("--workers", type=int, help="gunicorn worker processes")
    api.set_defaults(func=cmd_api)
    worker = sub.add_parser("worker", help="serve a host's GPUs to the scheduler")
    worker.add_argument("--pool", required=True, help="pool name from TRAINQ_POOLS")
    worker.add_argument("--gpus", default="", help="GPU ids of this host: 0,1, a range 0-7 or "
                        "UUIDs; 'all': every GPU NVML finds (empty: none)")
    worker.add_argument("--cpus", default="", help="CPU set for the scripts, e.g. 0-7")
    worker.add_argument("--name", help="host name, unique in the cluster; the scripts see it as "
                        "TRAINQ_HOST (default: this machine's host name)")
    worker.add_argument("--slots", type=int, help="most jobs at once (default: one per GPU, "
                        "or 1 without GPUs)")
    worker.add_argument("--addr", help="address the other hosts of a multi-host job reach this "
                        "one on (default: the address of the interface of its default route)")
    worker.add_argument("--env", action="append", default=[], metavar="NAME=PATH",
                        help="a runtime environment jobs may pick by env_id: its name and python, "
                        "e.g. torch2=/opt/venvs/torch2/bin/python (repeat for more; 'default' "
                        "is this worker's own python unless given)")
    worker.add_argument("--loglevel", help="Celery log level")
    worker.set_defaults(func=cmd_worker)
    sub.add_parser("scheduler", help="place queued jobs on hosts' GPUs (one leader; start a "
                   "second as standby)").set_defaults(func=cmd_scheduler)
    consumer = sub.add_parser("consumer", help="apply worker events and deliver webhooks")
    consumer.add_argument("--name", help="consumer name in the stream's group (default: the host "
                          "name); give each consumer on one host its own")
    consumer.set_defaults(func=cmd_consumer)
    sub.add_parser("flower", help="Flower on the trainq Celery app").set_defaults(func=cmd_flower)
    add_admin_commands(sub)
    add_dataset_commands(sub)
    add_model_commands(sub)
    add_user_commands(sub)
    sub.add_parser("up", help="run API, scheduler, a cpu worker, consumer and Flower in the "
                   "foreground"
                   ).set_defaults(func=cmd_up)
    return parser


def subcommand_names() -> set[str]:
    """Top-level subcommands (the compose test checks every service runs one of them)."""
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(action.choices)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args, Settings.from_env()) or 0
    except SettingsError as exc:
        print(f"trainq: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - a CLI prints one line, not a traceback
        from app.errors import DomainError
        if isinstance(exc, DomainError):
            detail = f" {exc.errors}" if exc.errors else ""
            print(f"trainq: {exc.message}{detail}", file=sys.stderr)
            return 1
        raise


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    sys.exit(main())
