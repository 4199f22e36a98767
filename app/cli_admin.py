"""`trainq users|workspaces|members|workers`: administration from a shell with database (and, for
workers, Redis) access: the same services the admin API uses; whoever can run this is trusted
like an admin."""
from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from config.settings import Settings


def _session(settings: Settings):
    from app.runtime import Runtime

    return Runtime(settings).db.write()


def cmd_users_create(args, settings: Settings) -> int:
    from app.services.auth import create_user

    password = read_password(args.password_file)
    with _session(settings) as session:
        create_user(session, args.username, password, is_admin=args.admin)
    print(f"created user {args.username!r}" + (" (admin)" if args.admin else ""))
    return 0


def cmd_users_passwd(args, settings: Settings) -> int:
    from app.services import users

    password = read_password(args.password_file)
    with _session(settings) as session:
        users.update_user(session, users.user_by_name(session, args.username), None,
                          password=password)
    print(f"password of {args.username!r} changed; their existing tokens no longer work")
    return 0


def cmd_users_delete(args, settings: Settings) -> int:
    from app.services import users

    with _session(settings) as session:
        users.delete_user(session, users.user_by_name(session, args.username), None)
    print(f"deleted user {args.username!r}")
    return 0


def cmd_users_list(args, settings: Settings) -> int:
    from app.services import users

    with _session(settings) as session:
        for user in users.list_users(session, page=1, page_size=10**6).items:
            roles = ", ".join(f"{m['name']}:{m['role']}"
                              for m in users.memberships_of(session, user.id))
            print(f"{user.id}\t{user.username}\t{'admin' if user.is_admin else '-'}\t{roles}")
    return 0


def cmd_workspaces_create(args, settings: Settings) -> int:
    from app.services import workspaces

    data = {"name": args.name, "description": args.description,
            "max_gpus_per_job": args.max_gpus_per_job, "max_queued_jobs": args.max_queued_jobs,
            "gpu_quota": args.gpu_quota}
    with _session(settings) as session:
        workspace = workspaces.create_workspace(session, data)
        print(f"created workspace {workspace.name!r} (id {workspace.id})")
    return 0


def cmd_workspaces_list(args, settings: Settings) -> int:
    from app.services import workspaces

    with _session(settings) as session:
        for ws in workspaces.list_workspaces(session, page=1, page_size=10**6).items:
            print(f"{ws['id']}\t{ws['name']}\tmax_gpus_per_job={ws['max_gpus_per_job']}\t"
                  f"max_queued_jobs={ws['max_queued_jobs']}\tqueued={ws['queued_jobs']}\t"
                  f"gpu_quota={ws['gpu_quota']}\tgpus_in_use={ws['gpus_in_use']}")
    return 0


def cmd_workspaces_set_quota(args, settings: Settings) -> int:
    from app.services import workspaces

    with _session(settings) as session:
        workspace = workspaces.get_workspace(session, args.workspace)
        workspaces.update_workspace(session, workspace, {"gpu_quota": args.quota})
    shown = "no quota" if args.quota is None else f"a quota of {args.quota} GPUs"
    print(f"workspace {workspace.name!r} now has {shown}")
    return 0


def cmd_members_add(args, settings: Settings) -> int:
    from app.services import users, workspaces
    from app.services.access import Role

    with _session(settings) as session:
        workspace = workspaces.get_workspace(session, args.workspace)
        workspaces.set_member(session, workspace, users.user_by_name(session, args.username),
                              Role(args.role))
    print(f"{args.username!r} is a {args.role} of workspace {workspace.name!r}")
    return 0


def cmd_members_remove(args, settings: Settings) -> int:
    from app.services import users, workspaces

    with _session(settings) as session:
        workspace = workspaces.get_workspace(session, args.workspace)
        workspaces.remove_member(session, workspace, users.user_by_name(session, args.username))
    print(f"{args.username!r} is no longer a member of workspace {workspace.name!r}")
    return 0


#: Columns of `trainq workers list`: heading, width (the last one takes what it needs).
_HOST_COLUMNS = (("NAME", 20), ("POOL", 10), ("STATE", 9), ("GPUS", 6), ("SLOTS", 6),
                 ("HEARTBEAT", 10), ("ENVS", 16), ("RUNNING JOBS", 0))


def cmd_workers_list(args, settings: Settings) -> int:
    from app.runtime import Runtime
    from app.services import hosts

    listed = hosts.list_hosts(Runtime(settings))
    print(_host_row([heading for heading, _ in _HOST_COLUMNS]))
    for host in listed:
        print(_host_row(_host_cells(host)))
    return 0


def _host_cells(host: dict) -> list[str]:
    age = host["heartbeat_age_seconds"]
    return [host["name"], host["pool"], host["state"],
            f"{host['gpus_free']}/{host['gpus_total']}", f"{host['free_slots']}/{host['slots']}",
            "-" if age is None else f"{age}s ago", ",".join(host.get("envs", ())) or "-",
            ",".join(host["running_jobs"]) or "-"]


def _host_row(cells: list[str]) -> str:
    return " ".join(cell.ljust(width) for cell, (_, width) in zip(cells, _HOST_COLUMNS)).rstrip()


def cmd_workers_drain(args, settings: Settings) -> int:
    from app.runtime import Runtime
    from app.services import hosts

    host = hosts.drain(Runtime(settings), args.name, draining=args.draining)
    if args.draining:
        print(f"draining host {host['name']!r} (state: {host['state']}): its "
              f"{len(host['running_jobs'])} running job(s) finish, nothing new starts there")
    else:
        print(f"host {host['name']!r} is no longer draining (state: {host['state']})")
    return 0


def add_admin_commands(sub) -> None:
    _add_users(sub.add_parser("users", help="manage API users").add_subparsers(
        dest="users_command", required=True))
    _add_workspaces(sub.add_parser("workspaces", help="manage workspaces").add_subparsers(
        dest="workspaces_command", required=True))
    _add_members(sub.add_parser("members", help="who belongs to a workspace, with which role"
                                ).add_subparsers(dest="members_command", required=True))
    # Not required: `trainq workers` alone lists the hosts over HTTP (app/cli_user.py).
    _add_workers(sub.add_parser("workers", help="worker hosts: list, drain before maintenance"
                                ).add_subparsers(dest="workers_command", required=False))


def _add_users(users) -> None:
    create = users.add_parser("create", help="add a user")
    create.add_argument("username")
    _password_option(create)
    create.add_argument("--admin", action="store_true", help="make the user an administrator")
    create.set_defaults(func=cmd_users_create)
    passwd = users.add_parser("passwd", help="set a user's password (their tokens stop working)")
    passwd.add_argument("username")
    _password_option(passwd)
    passwd.set_defaults(func=cmd_users_passwd)
    delete = users.add_parser("delete", help="remove a user (their jobs stay)")
    delete.add_argument("username")
    delete.set_defaults(func=cmd_users_delete)
    users.add_parser("list", help="users with their roles").set_defaults(func=cmd_users_list)


def _add_workspaces(workspaces) -> None:
    create = workspaces.add_parser("create", help="add a workspace")
    create.add_argument("name")
    create.add_argument("--description")
    create.add_argument("--max-gpus-per-job", type=int, help="largest gpu a job may ask for")
    create.add_argument("--max-queued-jobs", type=int, default=1000,
                        help="jobs that may wait at once (default 1000)")
    create.add_argument("--gpu-quota", type=_quota, help="GPUs its jobs may hold at once within "
                        "its share (default: no quota)")
    create.set_defaults(func=cmd_workspaces_create)
    workspaces.add_parser("list", help="workspaces with their limits and GPUs in use"
                          ).set_defaults(func=cmd_workspaces_list)
    set_quota = workspaces.add_parser("set-quota", help="set or clear a workspace's GPU quota")
    set_quota.add_argument("workspace", help="workspace name or id")
    set_quota.add_argument("quota", type=_quota, help="GPUs, or 'none' to clear the quota")
    set_quota.set_defaults(func=cmd_workspaces_set_quota)


def _quota(text: str) -> int | None:
    # Only the spelling is checked here; the service checks the range and says what it allows.
    if text.strip().lower() == "none":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of GPUs or 'none'") from None


def _add_members(members) -> None:
    from app.services.access import ROLES

    add = members.add_parser("add", help="add a user to a workspace, or change their role")
    add.add_argument("workspace", help="workspace name or id")
    add.add_argument("username")
    add.add_argument("--role", choices=ROLES, default="viewer", help="default: viewer")
    add.set_defaults(func=cmd_members_add)
    remove = members.add_parser("remove", help="take a user out of a workspace")
    remove.add_argument("workspace", help="workspace name or id")
    remove.add_argument("username")
    remove.set_defaults(func=cmd_members_remove)


def _add_workers(workers) -> None:
    workers.add_parser("list", help="hosts with their state, free GPUs and slots, running jobs"
                       ).set_defaults(func=cmd_workers_list)
    drain = workers.add_parser("drain", help="let the host's running jobs finish and place "
                               "nothing new there")
    drain.add_argument("name", help="host name, as `trainq workers list` shows it")
    drain.set_defaults(func=cmd_workers_drain, draining=True)
    undrain = workers.add_parser("undrain", help="let a drained host take new work again")
    undrain.add_argument("name", help="host name, as `trainq workers list` shows it")
    undrain.set_defaults(func=cmd_workers_drain, draining=False)


def _password_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--password-file", help="read the password from this file (- = stdin)")


def read_password(path: str | None) -> str:
    # Never a command-line argument: it would show in `ps` and in shell history.
    if path == "-":
        return sys.stdin.readline().rstrip("\n")
    if path:
        return Path(path).read_text().strip()
    return getpass.getpass("password: ")
