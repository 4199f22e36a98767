"""Job status: the one table of allowed transitions. Nothing else decides a status change."""
from __future__ import annotations

import enum


class JobStatus(str, enum.Enum):
    QUEUED = "queued"
    TRAINING = "training"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL

    @property
    def status_type(self) -> int:
        """The webhook contract's statusType (1 queued … 5 cancelled)."""
        return STATUS_TYPE[self]


TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})

#: Allowed moves. TRAINING -> QUEUED is a retry after a lost worker (a new attempt).
ALLOWED: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.TRAINING, JobStatus.CANCELLED, JobStatus.FAILED}),
    JobStatus.TRAINING: frozenset(
        {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.QUEUED}
    ),
    JobStatus.COMPLETED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.CANCELLED: frozenset(),
}

STATUS_TYPE = {
    JobStatus.QUEUED: 1,
    JobStatus.TRAINING: 2,
    JobStatus.COMPLETED: 3,
    JobStatus.FAILED: 4,
    JobStatus.CANCELLED: 5,
}

#: Seed 003's run-history words for a run's status (its status filter takes them too).
RUN_HISTORY_WORDS = {JobStatus.QUEUED: "pending", JobStatus.TRAINING: "running",
                     JobStatus.COMPLETED: "success", JobStatus.FAILED: "failed",
                     JobStatus.CANCELLED: "cancelled"}

#: Words other platforms use, accepted by the status filter.
ALIASES = {"pending": JobStatus.QUEUED, "running": JobStatus.TRAINING,
           "succeeded": JobStatus.COMPLETED, "success": JobStatus.COMPLETED,
           "canceled": JobStatus.CANCELLED}
#: Every word parse_status accepts (case and surrounding spaces aside), as the API documents it.
STATUS_WORDS = (*(status.value for status in JobStatus), *sorted(ALIASES))

#: Statuses whose webhook must carry a failureMessage.
NEEDS_FAILURE_MESSAGE = frozenset({JobStatus.FAILED, JobStatus.CANCELLED})
FAILURE_MESSAGE_LIMIT = 500


def can_transition(current: JobStatus, new: JobStatus) -> bool:
    return new in ALLOWED[current]


def parse_status(word: str) -> JobStatus:
    """A canonical status or one of its aliases; ValueError names the accepted words."""
    word = word.strip().lower()
    if word in ALIASES:
        return ALIASES[word]
    try:
        return JobStatus(word)
    except ValueError:
        accepted = ", ".join(STATUS_WORDS)
        raise ValueError(f"unknown status {word!r}; use one of: {accepted}") from None
