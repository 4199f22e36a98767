"""Events a worker sends to the control plane, appended to one Redis Stream."""
from __future__ import annotations

import json
import time
from typing import Any

from config.keys import EVENTS_MAXLEN, EVENTS_STREAM


class EventPublisher:
    """Appends events of one attempt. Entries of one producer keep their order in the stream."""

    def __init__(self, redis, job_id: str, attempt: int):
        self.redis, self.job_id, self.attempt = redis, job_id, attempt

    def entry(self, kind: str, data: dict[str, Any]) -> dict[str, str]:
        return {"job_id": self.job_id, "attempt": str(self.attempt), "kind": kind,
                "ts": repr(time.time()), "data": json.dumps(data, allow_nan=False)}

    def send(self, kind: str, data: dict[str, Any]) -> None:
        self.send_many([(kind, data)])

    def send_many(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for kind, data in events:
            pipe.xadd(EVENTS_STREAM, self.entry(kind, data), maxlen=EVENTS_MAXLEN,
                      approximate=True)
        pipe.execute()

    def finished(self, outcome: str, *, exit_code: int | None = None, message: str | None = None,
                 failure_class: str | None = None) -> None:
        self.send("finished", {"outcome": outcome, "exit_code": exit_code, "message": message,
                               "failure_class": failure_class})
