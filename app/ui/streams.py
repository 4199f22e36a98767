"""Server-Sent Events for the dashboard: each page's stream polls the database and sends
what changed, with an `id:` that lets a reconnecting EventSource resume (Last-Event-ID).

A stream lives at most STREAM_SECONDS, then ends; the browser reconnects after `retry:`
with the last id it got, so nothing is lost or sent twice, a worker restart or a proxy's idle
timeout costs a reconnect, and no response lives forever. Under the API's gunicorn worker
(app/http_worker.py) a stream holds a thread only while it polls: it yields an empty chunk
between polls and the server waits on its event loop (IDLE_ON_LOOP). Under any other server
the stream sleeps between polls itself.
"""
from __future__ import annotations

import hashlib
import json
import time
from typing import Any, Callable, Iterator

from app.errors import DomainError
from app.http_streaming import IDLE_ON_LOOP, IDLE_WAIT_SECONDS

STREAM_SECONDS = 55.0  # under the common 60 s proxy idle timeout even without heartbeats
HEARTBEAT_SECONDS = 15.0
RETRY_MS = 1000


class Feed:
    """One page's changes. `poll(session)` returns [(event, data)] since the cursor and moves
    it; `cursor` is the text sent as `id:` and read back from Last-Event-ID; `interval` is
    the least time between two polls."""

    cursor = ""
    interval = IDLE_WAIT_SECONDS

    def poll(self, session) -> list[tuple[str, Any]]:
        raise NotImplementedError


class SnapshotFeed(Feed):
    """A whole view, sent again only when it differs from the one the client has; the
    cursor is the view's fingerprint (its CLOCKS aside, which tick without news)."""

    CLOCKS = ("now", "clock")

    def __init__(self, event: str, build: Callable[[Any], dict], last_id: str | None,
                 interval: float):
        self.event, self.build, self.cursor = event, build, last_id or ""
        self.interval = interval

    def poll(self, session) -> list[tuple[str, Any]]:
        view = self.build(session)
        mark = fingerprint({k: v for k, v in view.items() if k not in self.CLOCKS})
        if mark == self.cursor:
            return []
        self.cursor = mark
        return [(self.event, view)]


def fingerprint(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def last_event_id(request) -> str | None:
    """The browser's Last-Event-ID, or `last_event_id=` for a client that opened the stream
    anew (an EventSource the page re-created after an error cannot set the header)."""
    return request.headers.get("Last-Event-ID") or request.args.get("last_event_id") or None


def event_stream(open_session, feed: Feed, environ: dict,
                 lifetime: float = STREAM_SECONDS) -> Iterator[bytes]:
    idle_on_loop = bool(environ.get(IDLE_ON_LOOP))
    yield f"retry: {RETRY_MS}\n\n".encode()
    started = quiet_since = time.monotonic()
    next_poll = 0.0
    while time.monotonic() - started < lifetime:
        if time.monotonic() >= next_poll:
            next_poll = time.monotonic() + feed.interval
            try:
                with open_session() as session:
                    events = feed.poll(session)
            except DomainError as exc:  # deleted, or no longer visible: say so, and end
                yield encode([("gone", {"status": exc.status, "message": exc.message})],
                             feed.cursor)
                return
            if events:
                yield encode(events, feed.cursor)
                quiet_since = time.monotonic()
        if time.monotonic() - quiet_since >= HEARTBEAT_SECONDS:
            yield b": keep-alive\n\n"  # a comment: proxies see traffic, a gone client an error
            quiet_since = time.monotonic()
        if idle_on_loop:
            yield b""  # the server waits on its event loop, holding no thread
        else:
            time.sleep(IDLE_WAIT_SECONDS)


def encode(events: list[tuple[str, Any]], cursor: str) -> bytes:
    """The batch as SSE frames; only the last carries the id, so a client cut off mid-batch
    resumes before it (the pages apply events idempotently)."""
    frames = []
    for index, (event, data) in enumerate(events):
        text = json.dumps(data, separators=(",", ":"), default=str)
        frame = f"event: {event}\ndata: {text}\n"
        if index == len(events) - 1:
            frame += f"id: {cursor}\n"
        frames.append(frame + "\n")
    return "".join(frames).encode()
