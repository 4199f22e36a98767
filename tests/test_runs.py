"""Runs: every attempt of a job, natively (/api/v1/training/runs, …/jobs/{id}/runs) and as seed
003's run history (/v4/openapi/app-groups/…/tasks), against the live stack; and each attempt's
status as a run, from rows a retried job leaves."""
from __future__ import annotations

import json
import re
import time
import uuid

import pytest
import requests

from app.models import Job, JobAttempt, JobMetric
from app.models.base import utcnow
from app.services import runs
from tests.test_events_replay import db  # noqa: F401  (the fixture)
from tests.test_tenancy import PARKED, make_user, make_workspace

pytestmark = pytest.mark.e2e
TASKS = "/v4/openapi/app-groups/{group}/functions/{name}/instances/{instance}/tasks"
ENVELOPE = {"status", "requestId", "httpCode", "code", "message", "latency", "totalCount",
            "result"}


@pytest.fixture(scope="module")
def history(api, stack):
    """One training name submitted three times: completed, failed, and still queued."""
    team = make_workspace(api, "runs")
    name = f"ctr-{uuid.uuid4().hex[:6]}"
    done = api.submit_ok(name=name, workspace_id=team["id"], args=["--epochs", "2"])
    api.wait_terminal(done, timeout=120)
    failed = api.submit_ok(name=name, workspace_id=team["id"], script_path="fail.py",
                           args=["3"], auto_fault_tolerance=False)
    api.wait_terminal(failed, timeout=60)
    waiting = api.submit_ok(name=name, workspace_id=team["id"], **PARKED)
    viewer = make_user(api, stack, "runs-viewer", {team["id"]: "viewer"})
    outsider = make_user(api, stack, "runs-outsider", {})
    return type("History", (), dict(team=team, name=name, done=done, failed=failed,
                                    waiting=waiting, viewer=viewer, outsider=outsider))


def _tasks(client, history, instance="-", group=None, **params):
    path = TASKS.format(group=group or history.team["name"], name=history.name, instance=instance)
    return client.request("GET", path, params=params)


def test_native_runs_of_a_name_are_newest_first_with_progress_and_metrics(api, history):
    page = api.request("GET", "/api/v1/training/runs", params={"name": history.name}).json()
    items = page["data"]["items"]
    assert [(r["job_id"], r["status"]) for r in items] == [
        (history.waiting, "queued"), (history.failed, "failed"), (history.done, "completed")]
    done = items[2]
    assert done["run_id"] == f"{history.done}.1" and done["attempt"] == 1
    assert done["progress"] == 100 and done["metrics"]["epoch"] == 2
    assert {"loss", "accuracy", "total_epochs"} <= set(done["metrics"])
    assert re.match(r"^\d{4}-.*\.\d{3}Z$", done["started_at"]) and done["finished_at"]
    assert items[1]["failure_class"] == "user_error" and items[1]["progress"] == 0
    assert items[0]["started_at"] is None and items[0]["progress"] == 0
    assert page["data"]["pagination"]["total"] == 3


def test_native_runs_of_one_job_and_the_filters(api, history):
    one = api.request("GET", f"/api/v1/training/jobs/{history.done}/runs").json()["data"]
    assert [r["run_id"] for r in one["items"]] == [f"{history.done}.1"]
    failed = api.request("GET", "/api/v1/training/runs",
                         params={"name": history.name, "status": "failed"}).json()["data"]
    assert [r["job_id"] for r in failed["items"]] == [history.failed]
    later = api.request("GET", "/api/v1/training/runs", params={
        "name": history.name, "started_after": one["items"][0]["started_at"]}).json()["data"]
    assert [r["job_id"] for r in later["items"]] == [history.failed]
    missing = api.request("GET", "/api/v1/training/jobs/job-0000000000000000/runs")
    assert missing.status_code == 404 and "no training job" in missing.json()["message"]
    naive = api.request("GET", "/api/v1/training/runs", params={"started_after": "2026-01-02"})
    assert naive.status_code == 400 and "started_after" in naive.json()["errors"]


def test_seed_003_history_has_the_documents_envelope_and_fields(api, history):
    response = _tasks(api, history, pageSize=10)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == ENVELOPE and body["status"] == "OK" and body["httpCode"] == 200
    assert body["totalCount"] == 3 and isinstance(body["latency"], int) and body["requestId"]
    pending, failed, done = body["result"]
    assert [t["status"] for t in body["result"]] == ["pending", "failed", "success"]
    assert set(done) == {"functionName", "runId", "generation", "status", "progress",
                         "startTime", "endTime", "extendInfo"}
    assert done["functionName"] == history.name and done["generation"] == "1"
    assert done["progress"] == 100 and 0 < done["startTime"] <= done["endTime"]
    assert json.loads(done["extendInfo"])["errors"] == []
    assert json.loads(done["extendInfo"])["epoch"] == 2
    errors = json.loads(failed["extendInfo"])["errors"]
    assert errors[0]["failure_class"] == "user_error" and "exit" in errors[0]["message"]
    assert pending["startTime"] == 0 and pending["endTime"] == 0
    assert failed["startTime"] <= time.time() * 1000


def test_seed_003_defaults_instance_filters_and_time_window(api, history):
    first = _tasks(api, history).json()
    assert first["totalCount"] == 3 and len(first["result"]) == 1  # pageSize defaults to 1
    second = _tasks(api, history, pageNumber=2).json()["result"]
    assert second[0]["runId"] == f"{history.failed}.1"
    by_id = _tasks(api, history, group=str(history.team["id"]), instance=history.done).json()
    assert [t["runId"] for t in by_id["result"]] == [f"{history.done}.1"]
    success = _tasks(api, history, status="success", pageSize=10).json()["result"]
    assert [t["status"] for t in success] == ["success"]
    done_start = _tasks(api, history, instance=history.done).json()["result"][0]["startTime"]
    after = _tasks(api, history, startTime=done_start, pageSize=10).json()["result"]
    assert [t["runId"] for t in after] == [f"{history.failed}.1"]
    before = _tasks(api, history, endTime=done_start + 1, pageSize=10).json()["result"]
    assert before == []  # the first run ended after it started


def test_seed_003_errors_use_its_envelope_and_say_what_to_fix(api, history, stack):
    anonymous = requests.get(stack["base_url"] + TASKS.format(
        group=history.team["name"], name=history.name, instance="-"), timeout=10)
    assert anonymous.status_code == 401 and set(ENVELOPE) <= set(anonymous.json())
    assert anonymous.json()["status"] == "FAIL" and anonymous.json()["httpCode"] == 401
    assert "Authorization: Bearer" in anonymous.json()["message"]
    too_big = _tasks(api, history, pageSize=101)
    assert too_big.status_code == 400 and too_big.json()["code"] == "BadRequest"
    assert "pageSize" in too_big.json()["errors"]
    bad_status = _tasks(api, history, status="done")
    assert bad_status.status_code == 400 and "pending" in str(bad_status.json()["errors"])
    unknown = _tasks(api, history, group="no-such-group")
    assert unknown.status_code == 404 and "no app group 'no-such-group'" in unknown.json()["message"]
    other = _tasks(api, history, instance="job-0000000000000000")
    assert other.status_code == 404 and "no instance 'job-0000000000000000'" in \
        other.json()["message"]
    unknown_route = api.request("GET", "/v4/openapi/app-groups/x")
    assert unknown_route.status_code == 404 and unknown_route.json()["status"] == "FAIL"


def test_seed_003_access_is_the_workspaces(history):
    assert _tasks(history.viewer, history, pageSize=10).json()["totalCount"] == 3
    hidden = _tasks(history.outsider, history)
    assert hidden.status_code == 404 and "no app group" in hidden.json()["message"]
    native = history.outsider.request("GET", "/api/v1/training/runs",
                                      params={"name": history.name}).json()["data"]
    assert native["items"] == [] and native["pagination"]["total"] == 0


def test_each_attempt_of_a_retried_job_is_a_run_with_its_own_status(db, admin_user):
    """Attempt 1 preempted, 2 lost with its worker, 3 training: cancelled, failed, training."""
    job_id = f"job-runs{time.time_ns()}"
    start = utcnow()
    with db.write() as session:
        session.add(Job(id=job_id, name="retried", framework="pytorch", script_path="x.py",
                        cpu=1, memory=1, gpu=0, priority=5, pool="cpu", queue="train.cpu.p05",
                        status="training", attempt=3, args=[], envs={}, created_at=start,
                        workspace_id=1))
        session.flush()
        for number, failure in ((1, "preempted"), (2, "worker_lost"), (3, None)):
            session.add(JobAttempt(job_id=job_id, number=number, failure_class=failure,
                                   started_at=start.replace(microsecond=number * 1000)))
        session.add(JobMetric(job_id=job_id, attempt=3, epoch=3, total_epochs=12, loss=0.5,
                              extra={"lr": 0.1}))
    with db.read() as session:
        page = runs.list_runs(session, admin_user(session), runs.RunFilter(job_id=job_id), 1, 10)
    assert [(r.attempt, r.status.value) for r in page.items] == [
        (3, "training"), (2, "failed"), (1, "cancelled")]
    assert page.items[0].progress == 25 and page.items[0].metrics == {
        "epoch": 3, "total_epochs": 12, "loss": 0.5, "lr": 0.1}


@pytest.fixture
def admin_user():
    from sqlalchemy import select

    from app.models import User

    return lambda session: session.scalar(select(User).where(User.is_admin.is_(True)))
