"""The job list at history scale: keyset pages walk every job once, newest first, under each
filter; and the list, detail and log reads are index reads, checked on their query plans with
20,000 jobs in a scratch database (plans, not timings: the bench times them at 100,000)."""
from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import datetime, timezone

import pytest
from sqlalchemy import event, select

from app.db import Database
from app.domain.status import JobStatus
from app.models import Job, User
from app.schema import upgrade
from app.services import job_queries, job_view, keyset
from tests.support.client import VALID_JOB
from tests.support.databases import fresh_database
from tests.support.history import analyze, insert_history, position_at
from tests.test_tenancy import PARKED, make_workspace

JOBS = 20_000
#: Tables that grow with the history: a read of any of them must go through an index.
BIG_TABLES = ("jobs", "job_transitions", "job_attempts", "job_metrics", "job_log_lines")
_NOW = datetime(2026, 1, 26, 10, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def scale(tmp_path_factory):
    with fresh_database(tmp_path_factory.mktemp("history")) as url:
        db = Database(url)
        upgrade(db)
        history = insert_history(db, JOBS)
        analyze(db)
        with db.read() as session:
            users = {"admin": session.get(User, history.admin_id),
                     "member": session.get(User, history.member_id)}
        yield db, history, users
        db.dispose()


def _filters(history) -> dict[str, dict]:
    return {"none": {}, "workspace": {"workspace_id": history.workspace_ids[1]},
            "status": {"status": JobStatus.FAILED}, "batch": {"batch_id": history.batch_ids[2]},
            "status_and_workspace": {"status": JobStatus.COMPLETED,
                                     "workspace_id": history.workspace_ids[0]}}


def _expected(session, user, history, status=None, workspace_id=None, batch_id=None) -> list:
    """Every job the listing should show, newest first, straight from the table."""
    query = select(Job.id).order_by(Job.created_at.desc(), Job.id.desc())
    visible = history.workspace_ids[:2] if not user.is_admin else history.workspace_ids
    query = query.where(Job.workspace_id.in_(visible))
    for column, value in ((Job.status, status and status.value), (Job.workspace_id, workspace_id),
                          (Job.batch_id, batch_id)):
        if value is not None:
            query = query.where(column == value)
    return list(session.scalars(query))


def _walk(session, user, page_size, **filters) -> list:
    listed, cursor = [], None
    while True:
        page = job_queries.list_jobs(session, user=user, page_size=page_size, cursor=cursor,
                                     **filters)
        listed += [job.id for job in page.items]
        if page.next_cursor is None:
            return listed
        assert len(page.items) == page_size
        cursor = keyset.decode(page.next_cursor)


@pytest.mark.parametrize("who", ["admin", "member"])
@pytest.mark.parametrize("name", ["none", "workspace", "status", "batch", "status_and_workspace"])
def test_cursor_pages_walk_every_job_once_newest_first(scale, who, name):
    db, history, users = scale
    filters = _filters(history)[name]
    with db.read() as session:
        expected = _expected(session, users[who], history, **filters)
        listed = _walk(session, users[who], 100, **filters)
    assert listed == expected and len(set(listed)) == len(listed)


def test_numbered_pages_keep_their_total_and_agree_with_the_cursor(scale):
    db, history, users = scale
    with db.read() as session:
        first = job_queries.list_jobs(session, user=users["member"], page_size=50, page=1)
        second = job_queries.list_jobs(session, user=users["member"], page_size=50, page=2)
        after = job_queries.list_jobs(session, user=users["member"], page_size=50,
                                      cursor=keyset.decode(first.next_cursor))
        expected = _expected(session, users["member"], history)
    assert first.total == len(expected) and after.total is None
    assert [j.id for j in second.items] == [j.id for j in after.items] == expected[50:100]


@contextmanager
def _statements(db):
    """The SQL a block sends on the read engine, with its parameters."""
    seen: list[tuple[str, object]] = []

    def record(_conn, _cursor, statement, parameters, _context, _many):
        seen.append((statement, parameters))
    event.listen(db.read_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.read_engine, "before_cursor_execute", record)


def _plan(db, statement: str, parameters) -> list[str]:
    with db.read_engine.connect() as connection:
        cursor = connection.connection.driver_connection.cursor()
        if db.is_sqlite:
            cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            return [row[-1] for row in cursor.fetchall()]
        cursor.execute("EXPLAIN " + statement, parameters)
        return [row[0] for row in cursor.fetchall()]


def _plans(db, read) -> list[list[str]]:
    with _statements(db) as seen, db.read() as session:
        read(session)
    return [_plan(db, statement, parameters) for statement, parameters in seen]


def _table_scans(db, plan: list[str]) -> list[str]:
    """Lines of `plan` that read a big table without an index."""
    tables = "|".join(BIG_TABLES)
    if db.is_sqlite:  # "SCAN jobs" alone is a table scan; "SEARCH/SCAN jobs USING … INDEX" is not
        return [line for line in plan
                if re.search(rf"\b({tables})\b", line) and "INDEX" not in line]
    return [line for line in plan if re.search(rf"Seq Scan on ({tables})\b", line)]


@pytest.mark.parametrize("who", ["admin", "member"])
@pytest.mark.parametrize("name", ["none", "workspace", "status", "batch", "status_and_workspace"])
def test_list_pages_and_counts_read_indexes_only(scale, who, name):
    db, history, users = scale
    filters = _filters(history)[name]
    deep = position_at(db, 0.9)

    def read(session):
        job_queries.list_jobs(session, user=users[who], page_size=20, **filters)
        job_queries.list_jobs(session, user=users[who], page_size=20, cursor=deep, **filters)
    plans = _plans(db, read)
    assert plans and all(not _table_scans(db, plan) for plan in plans), plans


def test_detail_and_log_tail_read_indexes_and_never_sort_the_log(scale):
    db, history, _users = scale
    detail = _plans(db, lambda s: job_view.load(s, history.busy_job_id))
    assert all(not _table_scans(db, plan) for plan in detail), detail
    logs = _plans(db, lambda s: job_queries.job_log_lines(s, history.busy_job_id, 100))
    tail = next(plan for plan in logs if any("job_log_lines" in line for line in plan))
    assert any("ix_job_log_lines_tail" in line for line in tail), tail
    assert not any("TEMP B-TREE" in line or "Sort" in line for line in tail), tail


def test_cursor_over_the_api_walks_a_workspace_and_its_filters(api):
    workspace = make_workspace(api, "cursor")["id"]
    ids = [api.submit_ok(workspace_id=workspace, name=f"c{i}", **PARKED) for i in range(5)]
    stopped = ids[1]
    api.request("POST", f"/api/v1/training/jobs/{stopped}/stop")
    assert _api_walk(api, workspace_id=workspace) == list(reversed(ids))
    assert _api_walk(api, workspace_id=workspace, status="cancelled") == [stopped]
    assert _api_walk(api, workspace_id=workspace, status="queued") == [
        job_id for job_id in reversed(ids) if job_id != stopped]
    sweep = api.request("POST", "/api/v1/training/jobs/batch", json={"jobs": [
        {**VALID_JOB, **PARKED, "workspace_id": workspace, "name": f"s{i}"} for i in range(3)]})
    batch = sweep.json()["data"]
    assert _api_walk(api, batch_id=batch["batch_id"]) == list(reversed(batch["job_ids"]))


def _api_walk(api, **params) -> list[str]:
    listed, cursor = [], None
    while True:
        response = api.request("GET", "/api/v1/training/jobs", params={
            **params, "page_size": 2, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        listed += [item["job_id"] for item in data["items"]]
        # Numbered pages carry the total; a cursor's page does not count (no COUNT query).
        assert ("total" in data["pagination"]) == (cursor is None)
        cursor = data["next_cursor"]
        if cursor is None:
            return listed


@pytest.mark.parametrize("cursor", [
    "not-a-cursor", "eyJhIjoxfQ", keyset.encode(keyset.Position(_NOW, "job-x"))[:-3],
    keyset.encode(keyset.Position(_NOW, "job\x00x")), "x" * 600])
def test_a_cursor_we_did_not_give_is_a_400_that_says_what_to_pass(api, cursor):
    response = api.request("GET", "/api/v1/training/jobs", params={"cursor": cursor})
    assert response.status_code == 400, response.text
    assert "next_cursor" in response.json()["errors"]["cursor"][0]


def test_page_and_cursor_together_are_a_400(api):
    cursor = keyset.encode(keyset.Position(_NOW, "job-x"))
    response = api.request("GET", "/api/v1/training/jobs", params={"cursor": cursor, "page": 2})
    assert response.status_code == 400 and "not both" in response.json()["errors"]["page"][0]
