"""Events a worker sends to the control plane, appended to one Redis Stream."""
from __future__ import annotations

import logging
import time
from typing import Any

from redis.exceptions import RedisError

from config.keys import EVENTS_MAXLEN, EVENTS_STREAM
from config.protocol import EventKind, FailureClass, Outcome, encode_entry

log = logging.getLogger(__name__)
#: About a minute of retries (0.2 s doubling to 5 s): longer than a Redis restart takes.
SEND_TRIES = 16


class EventPublisher:
    """Appends events of one attempt. Entries of one producer keep their order in the stream."""

    def __init__(self, redis, job_id: str, attempt: int, rank: int = 0):
        self.redis, self.job_id, self.attempt, self.rank = redis, job_id, attempt, rank

    def send(self, kind: EventKind, data: dict[str, Any]) -> None:
        self.send_many([(kind, data)])

    def send_many(self, events: list[tuple[EventKind, dict[str, Any]]]) -> None:
        """Append in order; through a Redis blip, keep trying for a while rather than lose them."""
        entries = [encode_entry(self.job_id, self.attempt, kind, data, self.rank)
                   for kind, data in events]
        delay = 0.2
        for attempt in range(SEND_TRIES):
            try:
                pipe = self.redis.pipeline(transaction=False)
                for entry in entries:
                    pipe.xadd(EVENTS_STREAM, entry, maxlen=EVENTS_MAXLEN, approximate=True)
                pipe.execute()
                return
            except RedisError as exc:
                if attempt == SEND_TRIES - 1:
                    raise
                log.warning("sending %d events failed (%s); retrying in %.1fs", len(entries), exc,
                            delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def finished(self, outcome: Outcome, *, exit_code: int | None = None,
                 message: str | None = None, failure_class: FailureClass | None = None,
                 exit_signal: str | None = None) -> None:
        self.send(EventKind.FINISHED, {"outcome": outcome, "exit_code": exit_code,
                                       "message": message, "failure_class": failure_class,
                                       "exit_signal": exit_signal})
