"""`trainq submit`: the POST body from a YAML job file and flags (flags win), with defaults for
what a quick submission leaves out; the API checks everything else and says what is wrong."""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from app.client import ClientError

#: flag, body field, type. Any other field of the body can be given in the job file.
FLAGS = (("--name", "name", str), ("--framework", "framework", str),
         ("--script", "script_path", str), ("--cpu", "cpu", int), ("--memory", "memory", str),
         ("--gpu", "gpu", int), ("--priority", "priority", int), ("--pool", "pool", str),
         ("--workspace", "workspace_id", int), ("--description", "description", str),
         ("--external-id", "external_id", str), ("--launcher", "launcher", str),
         ("--instances", "instance_count", int))
#: What a submission without these fields gets (the API requires them); name: the script's.
DEFAULTS = {"framework": "pytorch", "cpu": 1, "memory": 1 << 30, "gpu": 0}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(i?)B?\s*$", re.IGNORECASE)


def add_flags(parser: argparse.ArgumentParser, command) -> None:
    parser.add_argument("-f", "--file", help="YAML job file with the fields of the API's job "
                        "body (- = stdin); flags override it")
    for flag, field, kind in FLAGS:
        parser.add_argument(flag, dest=field, type=kind, help=_HELP.get(field),
                            metavar=flag[2:].upper().replace("-", "_"))
    parser.add_argument("-e", "--env", action="append", default=[], metavar="NAME=VALUE",
                        help="environment variable for the script (repeatable)")
    parser.add_argument("script_args", nargs="*", metavar="ARG",
                        help="arguments for the script, after `--`")
    parser.add_argument("-w", "--wait", action="store_true", help="follow the log until the job "
                        "ends; exit 1 when it failed or was cancelled")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the job id")
    parser.set_defaults(func=command)


_HELP = {"script_path": "script, relative to the server's TRAINQ_SCRIPT_ROOT",
         "memory": "bytes, or a size such as 4Gi, 512Mi, 8G (default 1Gi)",
         "framework": "pytorch (default) or tensorflow", "cpu": "cores (default 1)",
         "gpu": "GPUs per instance (default 0)", "priority": "0-10, higher first (default 5)",
         "workspace_id": "workspace id (default: the one you manage)",
         "instance_count": "hosts of a multi-host job (default 1)"}


def body(args: argparse.Namespace) -> dict:
    """The job: the file's fields, then the flags given, then the defaults for what is left."""
    job = read_job_file(args.file) if args.file else {}
    job.update({field: getattr(args, field) for _, field, _ in FLAGS
                if getattr(args, field) is not None})
    if args.script_args:
        job["args"] = args.script_args
    if args.env:
        job["envs"] = {**job.get("envs", {}), **dict(_pair(item) for item in args.env)}
    if isinstance(job.get("memory"), str):
        job["memory"] = parse_size(job["memory"])
    if "script_path" not in job:
        raise ClientError("say which script to run: --script PATH, or script_path in the job file")
    return {**DEFAULTS, "name": Path(str(job["script_path"])).stem, **job}


def read_job_file(path: str) -> dict:
    import yaml

    text = sys.stdin.read() if path == "-" else Path(path).read_text()
    try:
        job = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ClientError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(job, dict):
        raise ClientError(f"{path} must hold a mapping of job fields (name: …, script_path: …)")
    return job


def parse_size(text: str) -> int:
    """'4Gi' or '4GiB' = 4 × 2**30, '4G' or '4GB' = 4 × 10**9, a bare number: bytes."""
    match = _SIZE.match(text)
    if not match:
        raise ClientError(f"memory {text!r} is not a size: give bytes, or e.g. 4Gi, 512Mi, 8G")
    number, unit, binary = match.groups()
    power = " KMGT".index(unit.upper() or " ")
    return int(float(number) * (1024 if binary else 1000) ** power)


def _pair(item: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep:
        raise ClientError(f"--env {item!r}: write NAME=VALUE")
    return name, value
