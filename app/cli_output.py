"""How the `trainq` user commands print: -o table (for people), json or yaml (for programs),
and errors as one line saying what to do, never a traceback.

Colour only on a terminal and never with NO_COLOR (https://no-color.org); nothing animates.
Exit status: 0 done; 1 an error or, for `submit --wait`, a job that failed or was cancelled;
2 a usage error (argparse); 130 interrupted (Ctrl-C)."""
from __future__ import annotations

import functools
import json
import os
import sys
from datetime import datetime, timezone
from typing import Any, Callable

from app.client import ClientError

FORMATS = ("table", "json", "yaml")
EXIT_ERROR, EXIT_INTERRUPTED = 1, 130
_COLOURS = {"completed": "32", "training": "36", "queued": "33", "failed": "31",
            "cancelled": "35", "online": "32", "draining": "33", "offline": "31"}


def user_command(command):
    """Run a user command, turning every failure into one line on stderr and an exit status.
    main() passes the server settings, which user commands do not need."""
    @functools.wraps(command)
    def run(args, _settings=None) -> int:
        try:
            status = command(args) or 0
            sys.stdout.flush()  # here, so that a closed pipe is caught below
            return status
        except ClientError as exc:
            print(f"trainq: {exc}", file=sys.stderr)
        except BrokenPipeError:  # `trainq logs … | head`: the reader has all it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        except OSError as exc:  # a password or job file that cannot be read, say
            where = f"{exc.filename}: " if exc.filename else ""
            print(f"trainq: {where}{exc.strerror or exc}", file=sys.stderr)
        except EOFError:  # stdin closed at a prompt
            print("trainq: stdin ended before the answer; give it as an option (see --help)",
                  file=sys.stderr)
        except KeyboardInterrupt as exc:  # Ctrl-C: its message, if any, says what goes on
            print(exc.args[0] if exc.args else "", file=sys.stderr)
            return EXIT_INTERRUPTED
        return EXIT_ERROR
    return run


def emit(data: Any, fmt: str, table: Callable[[Any], str]) -> None:
    """Print `data` as the API answered it (json, yaml) or as `table` renders it."""
    if fmt == "json":
        print(json.dumps(data, indent=2, ensure_ascii=False))
    elif fmt == "yaml":
        import yaml

        print(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), end="")
    else:
        print(table(data))


def columns(headings: list[str], rows: list[list[str]]) -> str:
    """Left-aligned columns as wide as their widest cell; colour is added after padding."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headings, *rows)]
    lines = [[str(cell).ljust(width) for cell, width in zip(row, widths)]
             for row in [headings, *rows]]
    return "\n".join("  ".join(map(paint, line)).rstrip() for line in lines)


def pairs(items: list[tuple[str, Any]]) -> str:
    """`key   value` lines for one object; items whose value is None are left out."""
    shown = [(key, value) for key, value in items if value is not None]
    width = max(len(key) for key, _ in shown)
    indent = "\n" + " " * (width + 2)  # a value's further lines line up under its first
    return "\n".join(key.ljust(width) + "  " + paint(str(value)).replace("\n", indent)
                     for key, value in shown)


def paint(text: str) -> str:
    code = _COLOURS.get(text.strip())
    return f"\033[{code}m{text}\033[0m" if code and use_colour() else text


def use_colour() -> bool:
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def when(iso: str | None) -> str | None:
    """'2026-12-05 10:11:12 (3m ago)' from the API's ISO time; None stays None."""
    return f"{_moment(iso).astimezone():%Y-%m-%d %H:%M:%S} ({ago(iso)})" if iso else None


def ago(iso: str | None) -> str:
    if not iso:
        return "-"
    return duration((datetime.now(timezone.utc) - _moment(iso)).total_seconds()) + " ago"


def _moment(iso: str) -> datetime:
    moment = datetime.fromisoformat(iso)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)  # the API's UTC


def duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def size(nbytes: int) -> str:
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= scale:
            return f"{nbytes / scale:g} {unit}"
    return f"{nbytes} B"
