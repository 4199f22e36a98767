"""Read side of jobs: list with filters and pages, detail, logs, metrics."""
from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import func, select, union_all

from app.errors import NotFound
from app.models import Job, JobLogLine, JobMetric
from app.services import access, keyset


@dataclass
class Page:
    items: list
    page: int
    page_size: int
    total: int

    @property
    def total_pages(self) -> int:
        return math.ceil(self.total / self.page_size) if self.total else 0


#: The list's order; every index the list reads ends with these columns.
NEWEST = (Job.created_at.desc(), Job.id.desc())


@dataclass
class JobPage(Page):
    # `total` is None on a page read after a cursor (no COUNT).
    #: Where the next page starts (services.keyset); None on the last page.
    next_cursor: str | None = None


def list_jobs(session, *, user, page_size: int, page: int = 1,
              cursor: keyset.Position | None = None, status=None, workspace_id=None,
              batch_id=None) -> JobPage:
    """A page of the jobs `user` may see, newest first; the filters only narrow that further.
    After `cursor` (keyset): no total, so every page costs one index range. Else page `page`
    (OFFSET: deeper pages read more) with its total, which page-numbered clients need.

    Why the total stays on numbered pages only: its COUNT is most of a first page's cost and
    grows with the jobs matched. Measured at 100,000 jobs (scripts/benchlib/history.py, a busy
    2-core host): first page with COUNT p99 4 ms SQLite, 14 ms PostgreSQL (a member of two
    workspaces, 50,000 jobs: 7 / 19 ms); a cursor page at 90% depth 2 / 6 ms."""
    scopes = _scopes(access.visible_workspace_ids(session, user), workspace_id)
    queries = [_filtered(select(Job), scope, status, batch_id) for scope in scopes]
    if cursor is not None:
        queries = [keyset.after(q, Job.created_at, Job.id, cursor) for q in queries]
        return _page(_newest_first(session, queries, 0, page_size + 1), page, page_size, None)
    total = session.scalar(_filtered(select(func.count()).select_from(Job), None, status, batch_id)
                           .where(*_in_scopes(scopes))) if scopes else 0
    offset = (page - 1) * page_size
    return _page(_newest_first(session, queries, offset, page_size + 1), page, page_size, total)


def _scopes(visible: list[int] | None, asked: int | None) -> list[int | None]:
    """The workspaces to list, one index range each (None: all); a workspace the user does not
    belong to lists nothing. Not `workspace_id IN (…)`: neither database can read an IN list in
    created_at order, so they would fetch and sort every job of the user's workspaces."""
    if visible is None:
        return [asked]
    if asked is None:
        return visible
    return [asked] if asked in visible else []


def _in_scopes(scopes: list[int | None]) -> tuple:
    return () if scopes == [None] else (Job.workspace_id.in_(scopes),)


def _filtered(query, workspace_id, status, batch_id):
    # Each filter has its (column, created_at, id) index (migration 0010), so a filtered page
    # is one index range read newest first, never a scan and sort of the matching jobs.
    for column, value in ((Job.workspace_id, workspace_id), (Job.batch_id, batch_id),
                          (Job.status, status.value if status else None)):
        if value is not None:
            query = query.where(column == value)
    return query


def _newest_first(session, queries: list, offset: int, limit: int) -> list[Job]:
    """Rows offset..offset+limit of the union of `queries`, newest first: their keys from the
    indexes, then the page's rows by primary key (a union of whole rows costs more to build)."""
    ids = list(session.scalars(_newest_keys(queries, offset, limit))) if queries else []
    rows = {row.id: row for row in session.scalars(select(Job).where(Job.id.in_(ids)))}
    return [rows[job_id] for job_id in ids]


def _newest_keys(queries: list, offset: int, limit: int):
    """One query reads its keys straight from its index. Several each read their newest
    offset+limit keys, and one sort of those few merges them."""
    keys = [q.with_only_columns(Job.created_at, Job.id).order_by(*NEWEST) for q in queries]
    if len(keys) == 1:
        return keys[0].with_only_columns(Job.id).offset(offset).limit(limit)
    union = union_all(*(select(k.limit(offset + limit).subquery()) for k in keys)).subquery()
    return (select(union.c.id).order_by(union.c.created_at.desc(), union.c.id.desc())
            .offset(offset).limit(limit))


def _page(rows: list[Job], page: int, page_size: int, total: int | None) -> JobPage:
    """`rows` holds one row more than the page when there is a next page: no COUNT needed."""
    last = rows[page_size - 1] if len(rows) > page_size else None
    next_cursor = keyset.encode(keyset.Position(last.created_at, last.id)) if last else None
    return JobPage(rows[:page_size], page, page_size, total, next_cursor)


def get_job(session, job_id: str) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no training job {job_id!r}; list jobs with GET /api/v1/training/jobs")
    return job


def latest_metric(session, job: Job) -> JobMetric | None:
    return session.scalars(select(JobMetric).where(JobMetric.job_id == job.id)
                           .order_by(JobMetric.attempt.desc(), JobMetric.epoch.desc())
                           .limit(1)).first()


def job_metrics(session, job_id: str) -> list[JobMetric]:
    get_job(session, job_id)
    return list(session.scalars(select(JobMetric).where(JobMetric.job_id == job_id)
                                .order_by(JobMetric.attempt, JobMetric.epoch)))


def job_log_lines(session, job_id: str, lines: int) -> tuple[Job, list[JobLogLine]]:
    """The job and the last `lines` lines of its output, oldest first, across attempts; the
    lines of a multi-host job's instances interleave in the order they were printed."""
    job = get_job(session, job_id)
    newest = session.scalars(select(JobLogLine).where(JobLogLine.job_id == job_id)
                             .order_by(JobLogLine.attempt.desc(), JobLogLine.at.desc(),
                                       JobLogLine.rank.desc(), JobLogLine.seq.desc())
                             .limit(lines)).all()
    return job, list(reversed(newest))
