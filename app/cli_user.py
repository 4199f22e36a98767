"""`trainq login|logout|submit|ls|show|logs|stop|rm|queue|workers|drain|undrain`: the user
commands. They talk only to the HTTP API (app/client.py): no database, no Redis, just the
address and token `trainq login` stored, or TRAINQ_URL and TRAINQ_TOKEN. Exit statuses and
output formats: app/cli_output.py."""
from __future__ import annotations

import argparse
import sys

from app import cli_credentials as credentials
from app import cli_views as views
from app.cli_admin import read_password
from app.cli_credentials import client
from app.cli_follow import LogCursor, follow_to_end
from app.cli_output import EXIT_ERROR, FORMATS, duration, emit, user_command
from app.cli_submit import add_flags, body
from app.client import MAX_LOG_LINES, Client, ClientError


@user_command
def cmd_login(args) -> int:
    url = credentials.clean_url(args.url or credentials.target().url)
    username = args.username or input("username: ").strip()
    password = read_password(args.password_file)
    try:
        token = Client(url).login(username, password)
    except ClientError as exc:
        raise ClientError(f"could not log in to {url} as {username!r}: {exc}") from None
    path = credentials.save(url, username, token["access_token"])
    print(f"logged in to {url} as {username!r}; the token, valid for "
          f"{duration(token['expires_in'])}, is in {path}")


@user_command
def cmd_logout(args) -> int:
    stored = credentials.load()
    if stored.get("token"):
        try:
            Client(stored["url"], stored["token"]).logout()
        except ClientError:
            pass  # expired, revoked or unreachable: forgetting it is what matters here
    removed = credentials.forget()
    print("logged out" if removed else "not logged in")


@user_command
def cmd_submit(args) -> int:
    api = client()
    job = api.submit(body(args))
    _announce(job, args)
    if not args.wait:
        if not args.quiet:
            print(f"follow it: trainq logs -f {job['job_id']}", file=sys.stderr)
        return 0
    finished = follow_to_end(api, job["job_id"], out=_log_stream(args))
    if args.output != "table":
        emit(finished, args.output, views.job_detail)
    return 0 if finished["status"] == "completed" else EXIT_ERROR


def _announce(job: dict, args) -> None:
    """Programs read stdout: the id (-q), or the job (-o json|yaml; with --wait, the finished
    job at the end, while the log goes to stderr)."""
    if args.quiet:
        print(job["job_id"], flush=True)
    elif args.output == "table" or args.wait:
        print(f"{job['job_id']} {job['status']} in pool {job['pool']}", file=_log_stream(args),
              flush=True)
    else:
        emit(job, args.output, views.job_detail)


def _log_stream(args):
    return sys.stdout if args.output == "table" and not args.quiet else sys.stderr


@user_command
def cmd_ls(args) -> int:
    data = client().jobs(page=args.page, page_size=args.limit, status=args.status,
                         workspace_id=args.workspace)
    emit(data, args.output, views.job_page)
    pages = data["pagination"]
    if args.output == "table" and pages["page"] < pages["total_pages"]:
        print(f"page {pages['page']} of {pages['total_pages']} ({pages['total']} jobs); "
              f"--page {pages['page'] + 1} for more", file=sys.stderr)


@user_command
def cmd_show(args) -> int:
    emit(client().job(args.job), args.output, views.job_detail)


@user_command
def cmd_queue(args) -> int:
    emit(client().queue(args.job), args.output, views.queue_position)


@user_command
def cmd_logs(args) -> int:
    api = client()
    if args.follow:
        follow_to_end(api, args.job, tail=args.tail)
        return 0
    for line in LogCursor(api, args.job, args.tail).new_lines():
        print(line)


@user_command
def cmd_stop(args) -> int:
    answer = client().stop(args.job)
    emit(answer["data"], args.output, lambda data: f"{data['job_id']}: {answer['message']}")


@user_command
def cmd_rm(args) -> int:
    client().delete(args.job)
    print(f"deleted {args.job} with its logs and metrics")


@user_command
def cmd_workers(args) -> int:
    emit(client().workers(), args.output, views.hosts)


@user_command
def cmd_drain(args) -> int:
    answer = client().drain(args.host, draining=args.draining)
    emit(answer["data"], args.output,
         lambda host: f"{answer['message']} (state: {host['state']}, running jobs: "
                      f"{', '.join(host['running_jobs']) or 'none'})")


def add_user_commands(sub) -> None:
    """Register the user commands beside the server ones; `trainq workers` alone lists hosts
    over HTTP, while its subcommands (cli_admin) still go to Redis directly."""
    out = _output_option()
    login = sub.add_parser("login", help="log in to a trainq API and keep the token")
    login.add_argument("url", nargs="?", help="the API's address (default: TRAINQ_URL, the "
                       f"last login's, or {credentials.DEFAULT_URL})")
    login.add_argument("-u", "--username", help="asked for when not given")
    login.add_argument("--password-file", help="read the password from this file (- = stdin); "
                       "asked for when not given")
    login.set_defaults(func=cmd_login)
    sub.add_parser("logout", help="revoke the stored token and forget it"
                   ).set_defaults(func=cmd_logout)
    add_flags(sub.add_parser("submit", parents=[out], help="submit a training job"), cmd_submit)
    _add_ls(sub.add_parser("ls", parents=[out], help="list jobs, newest first"))
    for name, func, text in (("show", cmd_show, "a job's detail"),
                             ("queue", cmd_queue, "where a queued job stands, why, and when "
                              "it should start"), ("stop", cmd_stop, "stop (cancel) a job")):
        _job_command(sub.add_parser(name, parents=[out], help=text), func)
    _job_command(sub.add_parser("rm", help="delete a finished job with its logs and metrics"),
                 cmd_rm)
    _add_logs(sub.add_parser("logs", help="print a job's output; -f follows it"))
    _add_hosts(sub, out)


def _output_option() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    _add_output(parent)
    return parent


def _add_output(parser: argparse.ArgumentParser,
                text: str = "table (default), or json / yaml: the API's data") -> None:
    parser.add_argument("-o", "--output", choices=FORMATS, default="table", help=text)


def _job_command(parser: argparse.ArgumentParser, func) -> None:
    parser.add_argument("job", help="job id (job-…)")
    parser.set_defaults(func=func)


def _add_ls(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-s", "--status", help="queued, training, completed, failed, "
                        "cancelled (also pending, running)")
    parser.add_argument("--workspace", type=int, help="workspace id")
    parser.add_argument("--page", type=int, default=1)
    parser.add_argument("--limit", type=int, default=20, help="jobs per page, up to 100")
    parser.set_defaults(func=cmd_ls)


def _add_logs(parser: argparse.ArgumentParser) -> None:
    _job_command(parser, cmd_logs)
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing until the "
                        "job ends (Ctrl-C stops following, not the job)")
    parser.add_argument("-n", "--tail", type=int, default=MAX_LOG_LINES,
                        help=f"start with the last N lines (default: all, up to {MAX_LOG_LINES})")


def _add_hosts(sub, out: argparse.ArgumentParser) -> None:
    workers = sub.choices["workers"]  # cli_admin's: list, drain, undrain over Redis
    _add_output(workers, "with no subcommand: the hosts over HTTP, as table, json or yaml")
    workers.set_defaults(func=cmd_workers)
    for name, draining, text in (("drain", True, "let a host's jobs finish, place nothing new "
                                  "there (admins)"),
                                 ("undrain", False, "let a drained host take work again")):
        parser = sub.add_parser(name, parents=[out], help=text)
        parser.add_argument("host", help="host name, as `trainq workers` shows it")
        parser.set_defaults(func=cmd_drain, draining=draining)
