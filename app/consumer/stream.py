"""Consumer-group reads of the events stream: own pending entries first, then new ones."""
from __future__ import annotations

from typing import Any

import redis as redis_lib

from config.keys import CONSUMER_GROUP, EVENTS_STREAM
from config.protocol import decode_entry

Entry = tuple[str, dict[str, Any]]


def stream_client(url: str) -> redis_lib.Redis:
    # redis-py 8 defaults to a 5 s socket timeout with retries, which breaks XREADGROUP BLOCK;
    # keep the timeout well above the block time instead.
    return redis_lib.Redis.from_url(url, socket_timeout=60, socket_connect_timeout=5,
                                    decode_responses=True)


#: Entries read, applied and acknowledged together. A log entry carries up to 500 lines, so this
#: also bounds the lines a consumer holds at once (25,000), whatever the jobs print.
BATCH_ENTRIES = 50


class EventStream:
    def __init__(self, redis, consumer: str, block_ms: int = 1000,
                 count: int = BATCH_ENTRIES):
        self.redis, self.consumer = redis, consumer
        self.block_ms, self.count = block_ms, count
        self._drained_own = False

    def ensure_group(self) -> None:
        try:
            self.redis.xgroup_create(EVENTS_STREAM, CONSUMER_GROUP, id="0", mkstream=True)
        except redis_lib.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def read(self) -> list[Entry]:
        """Entries this consumer read before but never acknowledged come first (after a crash)."""
        if not self._drained_own:
            entries = self._read("0", block=None)
            if entries:
                return entries
            self._drained_own = True
        return self._read(">", block=self.block_ms)

    def restart(self) -> None:
        self._drained_own = False

    def claim_abandoned(self, min_idle_ms: int) -> list[Entry]:
        """Take over entries another consumer read and never acknowledged (it died)."""
        _next, claimed, _deleted = self.redis.xautoclaim(
            EVENTS_STREAM, CONSUMER_GROUP, self.consumer, min_idle_ms, "0-0", count=self.count)
        return [(entry_id, decode_entry(fields)) for entry_id, fields in claimed if fields]

    def ack(self, entry_ids: list[str]) -> None:
        """Done with these (their rows are committed): acknowledge and delete them. The stream's
        length cap alone would keep a million entries, each up to 500 log lines, in Redis."""
        if entry_ids:
            pipe = self.redis.pipeline(transaction=True)
            pipe.xack(EVENTS_STREAM, CONSUMER_GROUP, *entry_ids)
            pipe.xdel(EVENTS_STREAM, *entry_ids)
            pipe.execute()

    def _read(self, start: str, block: int | None) -> list[Entry]:
        reply = self.redis.xreadgroup(CONSUMER_GROUP, self.consumer, {EVENTS_STREAM: start},
                                      count=self.count, block=block)
        return [(entry_id, decode_entry(fields)) for entry_id, fields in _entries(reply) if fields]


def _entries(reply) -> list:
    if not reply:
        return []
    if isinstance(reply, dict):  # RESP3 answers a map of stream -> entries
        return next(iter(reply.values()))[0] if reply else []
    return reply[0][1]
