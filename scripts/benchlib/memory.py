"""Idle memory of each service, from /proc: what an operator's `ps` and cgroup limits see."""
from __future__ import annotations

import os
from pathlib import Path


def idle_memory(services: dict) -> dict:
    """MB per service: `<name>_rss_mb`, the largest resident set of one of its processes (the
    API's figure is per gunicorn worker), and `<name>_pss_mb`, its whole process group with
    shared pages split between the processes sharing them (a worker host's figure: the host
    agent, the Celery worker and its pool process together)."""
    figures = {}
    for name, service in services.items():
        pids = _group(service.proc.pid)
        figures[f"{name}_rss_mb"] = max((_field(pid, "status", "VmRSS:") for pid in pids),
                                        default=0.0)
        figures[f"{name}_pss_mb"] = sum(_field(pid, "smaps_rollup", "Pss:") for pid in pids)
    return figures


def proc_stats():
    """(pid, command name, fields after the name) of every process, from /proc/<pid>/stat."""
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                raw = Path(entry.path, "stat").read_text()
            except OSError:
                continue  # exited meanwhile
            yield int(entry.name), raw[raw.index("(") + 1:raw.rindex(")")], \
                raw[raw.rindex(")") + 2:].split()


def _group(pgid: int) -> list[int]:
    return [pid for pid, _name, fields in proc_stats() if int(fields[2]) == pgid]


def _field(pid: int, file: str, key: str) -> float:
    """A kB field of /proc/<pid>/<file>, in MB (0 when the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/{file}").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0
