"""Rows about the jobs that hold GPUs in a pool, found by the pool and status rather than by
a list of their ids.

An `IN (...)` of 1,600 ids costs SQLAlchemy about 5 ms to expand into bound parameters each
time it runs, and a busy cycle ran five of them (what each running job's workspace is, when it
should end, what preempting it would cost). The running jobs of a pool are its training jobs,
less the few just placed that have not started yet: those are read by id, a short list."""
from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy import and_
from sqlalchemy.sql import ColumnElement

from app.domain.status import JobStatus
from app.models import Job

#: Up to this many ids, the list is the cheaper way (a pool may run thousands of jobs).
FEW = 64
#: read(where) runs a query over jobs restricted by `where`; each row's first field is a job id.
Read = Callable[[ColumnElement], Iterable[tuple]]


def among(ids: Iterable[str], pool: str | None, read: Read) -> list[tuple]:
    """The rows `read` gives for the jobs `ids` (of `pool`; None: any pool)."""
    wanted = set(ids)
    if not wanted:
        return []
    if len(wanted) <= FEW:
        return list(read(Job.id.in_(sorted(wanted))))
    scope = Job.status == JobStatus.TRAINING.value
    if pool is not None:
        scope = and_(scope, Job.pool == pool)
    rows = [row for row in read(scope) if row[0] in wanted]
    missing = wanted - {row[0] for row in rows}
    if missing:   # placed and not started yet, or just ended and not given back yet
        rows += list(read(Job.id.in_(sorted(missing))))
    return rows
