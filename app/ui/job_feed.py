"""The job page's live feed: new epochs and log lines as they are stored, and the job's state
and webhook deliveries whenever they change. Its cursor says what the client already has:
`<attempt>:<epoch>.<log row id>.<state fingerprint>.<deliveries fingerprint>`."""
from __future__ import annotations

from typing import Any

from app.services import access, job_queries
from app.ui import read_model
from app.ui.streams import Feed, fingerprint


class JobFeed(Feed):
    def __init__(self, runtime, user, job_id: str, last_id: str | None):
        self.runtime, self.user, self.job_id = runtime, user, job_id
        self.epoch, self.log_id, self.state_mark, self.deliveries_mark = parse_cursor(last_id)

    @property
    def cursor(self) -> str:
        attempt, epoch = self.epoch
        return f"{attempt}:{epoch}.{self.log_id}.{self.state_mark}.{self.deliveries_mark}"

    def poll(self, session) -> list[tuple[str, Any]]:
        # Checked at every poll: a member removed from the workspace stops seeing it at once.
        access.check_job(session, self.user, self.job_id, access.Role.VIEWER)
        job = job_queries.get_job(session, self.job_id)
        events: list[tuple[str, Any]] = []
        state = read_model.job_state(self.runtime, session, self.user, self.job_id)
        if fingerprint(state) != self.state_mark:
            self.state_mark = fingerprint(state)
            events.append(("state", state))
        metrics = read_model.metrics_after(session, self.job_id, self.epoch)
        if metrics:
            self.epoch = (metrics[-1]["attempt"], metrics[-1]["epoch"])
            events.append(("metrics", metrics))
        logs = read_model.logs_after(session, job, self.log_id)
        if logs:
            self.log_id = max(line["id"] for line in logs)
            events.append(("logs", logs))
        deliveries = read_model.delivery_list(session, self.job_id)
        if fingerprint(deliveries) != self.deliveries_mark:
            self.deliveries_mark = fingerprint(deliveries)
            events.append(("deliveries", deliveries))
        return events


def parse_cursor(text: str | None) -> tuple[tuple[int, int], int, str, str]:
    """What a Last-Event-ID says the client has; anything unreadable means nothing."""
    try:
        epoch, log_id, state_mark, deliveries_mark = (text or "").split(".")
        attempt, number = epoch.split(":")
        return (int(attempt), int(number)), int(log_id), state_mark, deliveries_mark
    except ValueError:
        return (0, 0), 0, "", ""
