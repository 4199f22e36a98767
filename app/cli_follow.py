"""Following a job over plain HTTP: its log lines, each once, and its status, until it ends.

GET …/logs answers the last N lines, each with (attempt, rank, seq); `seq` rises per attempt
and instance, so the highest seq printed for each is the cursor. Polling twice a second keeps a
person's lag under a second and costs the API two small reads."""
from __future__ import annotations

import sys
import time
from typing import TextIO

from app.client import MAX_LOG_LINES, Client
from app.domain.status import TERMINAL

POLL_SECONDS = 0.5
#: Lines asked for on each poll after the first; a batch that is all new asks again for more.
FOLLOW_BATCH = 500


class LogCursor:
    def __init__(self, client: Client, job_id: str, tail: int = MAX_LOG_LINES):
        self.client, self.job_id, self.batch = client, job_id, tail
        self.printed: dict[tuple[int, int], int] = {}
        self.started = False

    def new_lines(self) -> list[str]:
        """Lines not printed yet, oldest first (the first call: the last `tail` lines)."""
        lines = self.batch
        while True:
            data = self.client.logs(self.job_id, lines)
            fresh = [(entry, text) for entry, text in zip(data["entries"], data["logs"])
                     if entry["seq"] > self.printed.get(_key(entry), -1)]
            if not self.started or len(fresh) < lines or lines >= MAX_LOG_LINES:
                break
            lines = min(lines * 10, MAX_LOG_LINES)  # all new: older unseen lines may precede
        for entry, _ in fresh:
            self.printed[_key(entry)] = max(entry["seq"], self.printed.get(_key(entry), -1))
        self.started, self.batch = True, FOLLOW_BATCH
        return [text for _, text in fresh]


def follow(client: Client, job_id: str, tail: int = MAX_LOG_LINES,
           out: TextIO = sys.stdout) -> dict:
    """Print the job's log as it grows and notes on its status (stderr) until it ends; the job."""
    cursor, notes = LogCursor(client, job_id, tail), StatusNotes(client)
    while True:
        job = client.job(job_id)
        if job["status"] not in TERMINAL:
            notes.update(job)
        for line in cursor.new_lines():
            print(line, file=out, flush=True)
        if job["status"] in TERMINAL:
            return job
        time.sleep(POLL_SECONDS)


def follow_to_end(client: Client, job_id: str, tail: int = MAX_LOG_LINES,
                  out: TextIO = sys.stdout) -> dict:
    """follow(), then how the job ended; Ctrl-C only stops following (the job goes on)."""
    try:
        job = follow(client, job_id, tail, out)
    except KeyboardInterrupt:
        raise KeyboardInterrupt(f"\ntrainq: stopped following {job_id}; the job goes on. "
                                f"Again: trainq logs -f {job_id}; stop it: trainq stop {job_id}"
                                ) from None
    print(f"trainq: {outcome(job)}", file=sys.stderr)
    return job


class StatusNotes:
    """One stderr line each time what the job waits for or runs on changes; no animation."""

    def __init__(self, client: Client):
        self.client, self.last = client, None

    def update(self, job: dict) -> None:
        note = self._describe(job)
        if note != self.last:
            print(f"trainq: {note}", file=sys.stderr, flush=True)
            self.last = note

    def _describe(self, job: dict) -> str:
        if job["status"] == "queued":
            where = self.client.queue(job["job_id"])
            return f"{job['job_id']} queued in pool {where['pool']}: {where['message']}"
        worker = (job["attempts"] or [{}])[-1].get("worker") or "its host"
        return f"{job['job_id']} {job['status']} on {worker} (attempt {job['attempt']})"


def outcome(job: dict) -> str:
    """The last line about a finished job."""
    why = f": {job['failure_message']}" if job.get("failure_message") else ""
    return f"{job['job_id']} {job['status']}{why}"


def _key(entry: dict) -> tuple[int, int]:
    return entry["attempt"], entry["rank"]
