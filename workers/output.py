"""Read a script's stdout and stderr line by line and ship them as log and metric events."""
from __future__ import annotations

import json
import logging
import math
import queue
import threading
import time
from collections import deque
from typing import IO, Any

from redis.exceptions import RedisError

from config.protocol import MAX_STEP, METRIC_LINE_PREFIX, NAMED_METRICS, EventKind

MAX_LINE_CHARS = 8192
BATCH_LINES, BATCH_SECONDS = 500, 0.1
#: Lines read but not yet shipped. When a script prints faster than Redis takes its lines, the
#: readers wait here, the pipe fills and the script's writes wait: the worker's memory stays
#: bounded and no line is dropped. Ten batches absorb a short Redis blip without stalling.
BUFFERED_LINES = 10 * BATCH_LINES
_DONE = object()
log = logging.getLogger(__name__)


def parse_report(text: str) -> tuple[EventKind, dict[str, Any]] | None:
    """What a `##trainq {...}` line reports: an epoch (it has "epoch"), else a step (it has
    "step"); None for an ordinary or invalid line, which stays a log line."""
    record = _report_object(text)
    if record is None:
        return None
    if "epoch" in record:
        return (EventKind.EPOCH, _epoch(record)) if _is_count(record["epoch"]) else None
    if _is_count(record.get("step")) and record["step"] <= MAX_STEP:
        return EventKind.STEPS, {"step": record["step"], "values": _numbers(record, ("step",))}
    return None


def parse_metric_line(text: str) -> dict[str, Any] | None:
    """The epoch record of a `##trainq {...}` line; None when the line is not a valid one."""
    report = parse_report(text)
    return report[1] if report is not None and report[0] is EventKind.EPOCH else None


def _report_object(text: str) -> dict[str, Any] | None:
    if not text.startswith(METRIC_LINE_PREFIX):
        return None
    try:
        record = json.loads(text[len(METRIC_LINE_PREFIX):])
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _epoch(record: dict[str, Any]) -> dict[str, Any]:
    extra = _numbers(record, ("epoch", "total_epochs"))
    named = {name: extra.pop(name, None) for name in NAMED_METRICS}
    total = record.get("total_epochs")
    return {"epoch": record["epoch"], **named, "extra": extra,
            "total_epochs": total if _is_int(total) else None}


def _numbers(record: dict[str, Any], skip: tuple[str, ...]) -> dict[str, float | int | None]:
    """The numeric values of a report by name (at most 100 characters); NaN and inf as None."""
    return {key[:100]: value if math.isfinite(value) else None
            for key, value in record.items() if key not in skip and _is_number(value)}


def _is_count(value) -> bool:
    return _is_int(value) and value >= 0


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class OutputShipper:
    """Two reader threads feed one shipper thread, which batches lines into stream entries."""

    def __init__(self, publisher, stdout: IO[bytes], stderr: IO[bytes], tail_lines: int = 40):
        self.publisher = publisher
        self.lines: queue.Queue = queue.Queue(maxsize=BUFFERED_LINES)
        self.stderr_tail: deque[str] = deque(maxlen=tail_lines)
        self.seq = 0
        self.readers = [threading.Thread(target=self._read, args=(stream, name), daemon=True)
                        for stream, name in ((stdout, "stdout"), (stderr, "stderr"))]
        self.shipper = threading.Thread(target=self._ship, daemon=True)

    def start(self) -> "OutputShipper":
        for thread in (*self.readers, self.shipper):
            thread.start()
        return self

    def join(self, timeout: float = 30) -> None:
        for reader in self.readers:
            reader.join(timeout)
        self.lines.put(_DONE)
        self.shipper.join(timeout)

    def stderr_message(self, limit: int = 500) -> str:
        """The last stderr lines, at most `limit` characters, newest kept."""
        return "\n".join(self.stderr_tail)[-limit:]

    def _read(self, stream: IO[bytes], name: str) -> None:
        for raw in iter(stream.readline, b""):
            text = raw.decode("utf-8", "replace").rstrip("\r\n")[:MAX_LINE_CHARS]
            if name == "stderr":
                self.stderr_tail.append(text)
            self.lines.put((name, text))
        stream.close()

    def _ship(self) -> None:
        done = False
        while not done:
            batch, done = self._next_batch()
            if batch:
                self._send(batch)

    def _send(self, batch: list[tuple[str, str]]) -> None:
        # The shipper must outlive an outage longer than the publisher's retries: the readers
        # (and so the script) wait for it, so it drops this batch rather than stop for good.
        try:
            self.publisher.send_many(self._events(batch))
        except RedisError as exc:
            log.warning("dropped %d output lines: Redis took none of them (%s)", len(batch), exc)

    def _next_batch(self) -> tuple[list[tuple[str, str]], bool]:
        batch: list[tuple[str, str]] = []
        deadline = time.monotonic() + BATCH_SECONDS
        while len(batch) < BATCH_LINES:
            try:
                item = self.lines.get(timeout=max(0.0, deadline - time.monotonic()) if batch else 1)
            except queue.Empty:
                if batch:
                    break
                continue
            if item is _DONE:
                return batch, True
            batch.append(item)
        return batch, False

    def _events(self, batch: list[tuple[str, str]]) -> list[tuple[EventKind, dict[str, Any]]]:
        """Log lines grouped into one event; an epoch line splits the group to keep order. The
        batch's steps go in one event after them: their step numbers are their order."""
        events: list[tuple[EventKind, dict[str, Any]]] = []
        pending: list[dict[str, Any]] = []
        steps: list[dict[str, Any]] = []
        for stream, text in batch:
            report = parse_report(text) if stream == "stdout" else None
            if report is None:
                self.seq += 1
                pending.append({"seq": self.seq, "stream": stream, "line": text})
            elif report[0] is EventKind.STEPS:
                steps.append(report[1])
            else:
                events.extend(_flush_log(pending))
                events.append(report)
        events.extend(_flush_log(pending))
        return events + ([(EventKind.STEPS, {"steps": steps})] if steps else [])


def _flush_log(pending: list[dict[str, Any]]) -> list[tuple[EventKind, dict[str, Any]]]:
    """The pending lines as one LOG event (none when there are none), emptying the list."""
    if not pending:
        return []
    lines = pending.copy()
    pending.clear()
    return [(EventKind.LOG, {"lines": lines})]
