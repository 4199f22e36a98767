"""Read a script's stdout and stderr line by line and ship them as log and metric events."""
from __future__ import annotations

import json
import math
import queue
import threading
import time
from collections import deque
from typing import IO, Any

from config.protocol import METRIC_LINE_PREFIX, NAMED_METRICS, EventKind

MAX_LINE_CHARS = 8192
BATCH_LINES, BATCH_SECONDS = 500, 0.1
_DONE = object()


def parse_metric_line(text: str) -> dict[str, Any] | None:
    """The epoch record of a `##trainq {...}` line; None when the line is not a valid one."""
    if not text.startswith(METRIC_LINE_PREFIX):
        return None
    try:
        record = json.loads(text[len(METRIC_LINE_PREFIX):])
    except ValueError:
        return None
    if not isinstance(record, dict) or not _is_int(record.get("epoch")) or record["epoch"] < 0:
        return None
    return _normalise(record)


def _normalise(record: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"epoch": record["epoch"], **dict.fromkeys(NAMED_METRICS), "extra": {}}
    total = record.get("total_epochs")
    out["total_epochs"] = total if _is_int(total) else None
    for key, value in record.items():
        if key in ("epoch", "total_epochs") or not _is_number(value):
            continue
        value = value if math.isfinite(value) else None
        if key in NAMED_METRICS:
            out[key] = value
        else:
            out["extra"][key[:100]] = value
    return out


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class OutputShipper:
    """Two reader threads feed one shipper thread, which batches lines into stream entries."""

    def __init__(self, publisher, stdout: IO[bytes], stderr: IO[bytes], tail_lines: int = 40):
        self.publisher = publisher
        self.lines: queue.Queue = queue.Queue()
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
                self.publisher.send_many(self._events(batch))

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
        """Log lines grouped into one event; a metric line splits the group to keep order."""
        events: list[tuple[EventKind, dict[str, Any]]] = []
        pending: list[dict[str, Any]] = []
        for stream, text in batch:
            metric = parse_metric_line(text) if stream == "stdout" else None
            if metric is None:
                self.seq += 1
                pending.append({"seq": self.seq, "stream": stream, "line": text})
                continue
            if pending:
                events.append((EventKind.LOG, {"lines": pending}))
                pending = []
            events.append((EventKind.EPOCH, metric))
        if pending:
            events.append((EventKind.LOG, {"lines": pending}))
        return events
