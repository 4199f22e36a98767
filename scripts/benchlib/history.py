"""The read side at history scale: job list (first page, a deep page by cursor, each filter, a
non-admin's), job detail and a log tail, with `jobs` jobs in the database.

Each read is the service call the API route makes, in its own session as a request has it,
so the figures are the database's share of a request (no HTTP, no JSON)."""
from __future__ import annotations

import tempfile
import time
from contextlib import contextmanager
from typing import Callable, Iterator

from scripts.benchlib.stats import percentiles_ms


def measure(database_url: str, jobs: int = 100_000, reads: int = 200) -> dict:
    """p50/p99 ms of each read. `database_url` picks the database: any sqlite URL means a new
    SQLite file in a temporary folder; a PostgreSQL URL names a server (and a database to
    connect to) on which a scratch database is created, and dropped at the end."""
    from app.db import Database
    from app.schema import upgrade
    from tests.support.history import analyze, insert_history

    with _scratch(database_url) as url:
        db = Database(url)
        try:
            upgrade(db)
            started = time.perf_counter()
            history = insert_history(db, jobs)
            analyze(db)
            figures = {"jobs": jobs, "insert_s": round(time.perf_counter() - started, 1)}
            for name, read in _reads(db, history, jobs).items():
                figures.update(percentiles_ms(name, _timed(db, read, reads)))
            return figures
        finally:
            db.dispose()


def _reads(db, history, jobs: int) -> dict[str, Callable]:
    """name -> read(session); users and positions are looked up once, outside the timing."""
    from app.domain.status import JobStatus
    from app.models import User
    from app.services import job_queries, job_view, keyset
    from tests.support.history import position_at

    with db.read() as session:
        admin, member = session.get(User, history.admin_id), session.get(User, history.member_id)
        session.expunge_all()

    def page(user=admin, **filters):
        return lambda s: job_queries.list_jobs(s, user=user, page_size=20, **filters)

    deep = position_at(db, 0.9)
    return {
        "list_first_page": page(),
        "list_deep_page_cursor": page(cursor=deep),
        "list_cursor_no_filter": page(cursor=keyset.decode(_first(db, page()).next_cursor)),
        "list_workspace": page(workspace_id=history.workspace_ids[2]),
        "list_status": page(status=JobStatus.FAILED),
        "list_batch": page(batch_id=history.batch_ids[len(history.batch_ids) // 2]),
        "list_member": page(member),
        "list_member_status_cursor": page(member, status=JobStatus.COMPLETED, cursor=deep),
        "list_deep_page_offset": page(page=int(jobs * 0.9) // 20),
        "detail": lambda s: job_view.load(s, history.busy_job_id),
        "logs_100": lambda s: job_queries.job_log_lines(s, history.busy_job_id, 100),
    }


def _first(db, read):
    with db.read() as session:
        return read(session)


def _timed(db, read: Callable, reads: int) -> list[float]:
    for _ in range(5):  # warm the connection pool and the page cache, as a running API has them
        _first(db, read)
    times = []
    for _ in range(reads):
        started = time.perf_counter()
        _first(db, read)
        times.append(time.perf_counter() - started)
    return times


@contextmanager
def _scratch(database_url: str) -> Iterator[str]:
    if database_url.startswith("sqlite"):
        with tempfile.TemporaryDirectory(prefix="trainq-history-") as folder:
            yield f"sqlite:///{folder}/trainq.db"
        return
    from tests.support.databases import scratch_postgres

    with scratch_postgres(database_url, "trainq_bench_history") as url:
        yield url
