"""A job that prints a million lines, through the live stack: every line is kept, the tail reads
only what it returns, and neither the worker host, the consumer, the API nor Redis holds the
lines in memory on their way (issue 12)."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.models.telemetry import JobLogLine
from config.keys import EVENTS_STREAM
from tests.test_events_replay import db  # noqa: F401 (db: the database fixture)

pytestmark = pytest.mark.e2e
LINES = 1_000_000
#: What a process may grow by while the lines pass through it. Unbounded buffering of a
#: million lines would cost a worker or a consumer some hundreds of MB.
GROWTH_MB = 48


def _group_rss_mb(pgid: int) -> float:
    """Resident MB of a service's process group (a script runs in its own group: not counted)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if int(stat[stat.rindex(")") + 2:].split()[2]) != pgid:
                continue
            status = (entry / "status").read_text()
        except (OSError, ValueError):
            continue   # exited meanwhile
        total += next((int(line.split()[1]) for line in status.splitlines()
                       if line.startswith("VmRSS:")), 0)
    return total / 1024


class Peaks(threading.Thread):
    """Samples each service's resident memory until stopped; keeps each one's highest."""
    def __init__(self, services: dict):
        super().__init__(daemon=True)
        self.groups = {name: service.proc.pid for name, service in services.items()}
        self.peaks = {name: 0.0 for name in self.groups}
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(0.2):
            for name, pgid in self.groups.items():
                self.peaks[name] = max(self.peaks[name], _group_rss_mb(pgid))


def test_a_million_log_lines_are_all_kept_and_no_process_grows_with_them(
        api, stack, db, redis_client):  # noqa: F811
    services = {name: stack["services"][name] for name in ("worker-cpu-test", "consumer", "api")}
    before = {name: _group_rss_mb(service.proc.pid) for name, service in services.items()}
    peaks = Peaks(services)
    peaks.start()
    try:
        job_id = api.submit_ok(script_path="print_lines.py", args=[str(LINES)])
        assert api.wait_terminal(job_id, timeout=300)["status"] == "completed"
    finally:
        peaks.halt.set()
        peaks.join()
    grew = {name: round(peaks.peaks[name] - before[name], 1) for name in services}
    print(f'growth while {LINES} lines passed (MB): {grew}')
    assert all(growth <= GROWTH_MB for growth in grew.values()), grew

    with db.read() as session:
        stored = session.scalar(select(func.count()).select_from(JobLogLine)
                                .where(JobLogLine.job_id == job_id))
    assert stored == LINES
    response = api.request("GET", f"/api/v1/training/jobs/{job_id}/logs?lines=100")
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["logs"] == [f"line {i}" for i in range(LINES - 100, LINES)]
    assert data["entries"][-1]["seq"] == LINES
    # Handled events are deleted: Redis does not keep the million lines either.
    assert redis_client.xlen(EVENTS_STREAM) < 100
