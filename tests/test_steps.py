"""Per-step values (report_step): the line, how the worker ships it, how the consumer stores it
(idempotently, rank 0 only), the curve the metrics route downsamples, and end to end."""
from __future__ import annotations

import io
import json
import time
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app.models import Job, JobMetric, JobStep, JobStepSpan, WebhookDelivery
from app.services import jobs as job_commands
from app.services.steps import curve
from config.protocol import MAX_STEP, EventKind, encode_entry
from scripts.benchlib.steps import seed_steps
from tests.test_events_replay import _apply, _event, db  # noqa: F401 (the fixture)
from tests.test_output import Recorder
from workers.output import OutputShipper, parse_metric_line, parse_report
from workers.reporting import report_step, step_line


# The line and its parsing --------------------------------------------------------------------

def test_a_step_line_is_the_prefix_and_json_with_step():
    line = step_line(7, loss=0.25, lr=3e-4, grad=float("nan"))
    assert line == '##trainq {"step": 7, "loss": 0.25, "lr": 0.0003, "grad": null}'
    out = io.StringIO()
    report_step(8, stream=out, loss=0.5)
    assert out.getvalue() == '##trainq {"step": 8, "loss": 0.5}\n'


@pytest.mark.parametrize("step", [-1, MAX_STEP + 1])
def test_a_step_out_of_range_is_refused_in_the_script(step):
    with pytest.raises(ValueError, match=f"step must be 0 to {MAX_STEP}"):
        step_line(step)


def test_a_value_called_epoch_is_refused_as_it_would_report_an_epoch():
    with pytest.raises(ValueError, match="epoch_progress"):
        step_line(3, epoch=0.5)


def test_a_step_line_parses_as_steps_and_never_as_an_epoch():
    kind, record = parse_report('##trainq {"step": 12, "loss": 0.5, "acc": Infinity, "note": "x"}')
    assert kind is EventKind.STEPS
    assert record == {"step": 12, "values": {"loss": 0.5, "acc": None}}
    assert parse_metric_line(step_line(12, loss=0.5)) is None


@pytest.mark.parametrize("text", [
    '##trainq {"step": -1}', '##trainq {"step": 1.5}', '##trainq {"step": true}',
    '##trainq {"step": "3"}', f'##trainq {{"step": {MAX_STEP + 1}}}', '##trainq [1]',
    'step 3 loss 0.5'])
def test_an_invalid_step_line_stays_a_log_line(text):
    assert parse_report(text) is None


def test_a_line_with_epoch_and_step_reports_the_epoch_as_before():
    kind, record = parse_report('##trainq {"epoch": 2, "step": 900, "loss": 0.1}')
    assert kind is EventKind.EPOCH and record["epoch"] == 2
    assert record["extra"] == {"step": 900} and record["loss"] == 0.1


def test_the_shipper_batches_steps_into_few_events_and_keeps_logs_and_epochs():
    lines = [step_line(i, loss=1 / i) for i in range(1, 1201)]
    lines[600:600] = ["halfway", '##trainq {"epoch": 1, "loss": 0.5}']
    stdout = io.BytesIO("\n".join(lines).encode() + b"\n")
    recorder = Recorder()
    shipper = OutputShipper(recorder, stdout, io.BytesIO()).start()
    shipper.join()
    by_kind = {kind: [data for k, data in recorder.events if k == kind] for kind in EventKind}
    steps = [record["step"] for data in by_kind[EventKind.STEPS] for record in data["steps"]]
    assert steps == list(range(1, 1201))  # each once, in order
    assert 3 <= len(by_kind[EventKind.STEPS]) <= 6  # batched: at most 500 lines an event
    assert [line["line"] for data in by_kind[EventKind.LOG] for line in data["lines"]] == \
        ["halfway"]
    assert [data["epoch"] for data in by_kind[EventKind.EPOCH]] == [1]


# The consumer: idempotent, rank 0, current attempt ------------------------------------------

def _new_job(db, n=0, **fields):
    """A job that has ended: steps are stored whatever the status, and the session stack's
    scheduler and reaper leave it alone (a queued or training one would be run or retried)."""
    fields = {"attempt": 1, **fields}
    row = Job(id=f"job-steps{time.time_ns()}{n}", name="steps", framework="pytorch",
              script_path="x.py", cpu=1, memory=1, gpu=0, priority=5, pool="cpu",
              queue="train.cpu.p05", status="completed", args=[], envs={}, workspace_id=1,
              **fields)
    with db.write() as session:
        session.add(row)
    return row


@pytest.fixture
def job(db):
    return _new_job(db)


def _steps_event(job, numbers, attempt=1, **values):
    return _event(job, EventKind.STEPS, {"steps": [
        {"step": n, "values": {"loss": 1 / (n + 1), **values}} for n in numbers]}, attempt)


def _stored(db, job) -> list[tuple[int, int, dict]]:
    with db.read() as session:
        return [tuple(row) for row in session.execute(
            select(JobStep.attempt, JobStep.step, JobStep.values).where(JobStep.job_id == job.id)
            .order_by(JobStep.attempt, JobStep.step))]


def test_replayed_and_overlapping_step_events_store_each_step_once(db, job):
    first, second = _steps_event(job, range(0, 300)), _steps_event(job, range(200, 500))
    _apply(db, first, second)
    _apply(db, second, first)  # a consumer crash before XACK delivers them again
    _apply(db, _steps_event(job, [7, 7, 800], tag=2.0))  # a step reported twice: the first wins
    stored = _stored(db, job)
    assert [step for _attempt, step, _values in stored] == [*range(500), 800]
    assert stored[7][2] == {"loss": 1 / 8}
    with db.read() as session:  # the span counts each step once too
        span = session.get(JobStepSpan, (job.id, 1))
        assert (span.steps, span.first_step, span.last_step) == (501, 0, 800)
    with db.read() as session:  # steps are a curve: no epoch row, no result webhook
        assert session.scalar(select(func.count()).select_from(WebhookDelivery).where(
            WebhookDelivery.job_id == job.id, WebhookDelivery.kind == "result")) == 0
        assert session.scalar(select(func.count()).select_from(JobMetric).where(
            JobMetric.job_id == job.id)) == 0


def test_steps_of_an_old_attempt_are_ignored(db):
    job = _new_job(db, attempt=2)
    _apply(db, _steps_event(job, [1, 2], attempt=1), _steps_event(job, [5], attempt=2))
    assert [(attempt, step) for attempt, step, _ in _stored(db, job)] == [(2, 5)]


def test_only_rank_0_reports_a_gang_jobs_steps(db):
    gang = _new_job(db, instance_count=2, launcher="torchrun")
    for rank in (1, 0):
        entry = encode_entry(gang.id, 1, EventKind.STEPS, {}, rank)
        _apply(db, {**entry, "data": {"steps": [{"step": rank, "values": {"loss": 0.5}}]}})
    assert _stored(db, gang) == [(1, 0, {"loss": 0.5})]


def test_32_jobs_interleaved_and_replayed_lose_and_double_nothing(db):
    rows = [_new_job(db, i) for i in range(32)]
    events = [_steps_event(row, range(start, start + 250)) for start in range(0, 1000, 250)
              for row in rows]
    for batch in range(0, len(events), 20):  # the consumer's batches, each delivered twice
        _apply(db, *events[batch:batch + 20])
        _apply(db, *events[batch:batch + 20])
    for row in rows:
        assert [step for _a, step, _v in _stored(db, row)] == list(range(1000))
        assert _curve(db, row, 10_000).total == 1000


def test_deleting_a_job_deletes_its_steps(db, job):
    _apply(db, _steps_event(job, range(10)))
    job_commands.delete_job(SimpleNamespace(db=db), job.id)
    with db.read() as session:
        assert all(session.scalar(select(func.count()).select_from(model).where(
            model.job_id == job.id)) == 0 for model in (JobStep, JobStepSpan))


# The curve ----------------------------------------------------------------------------------

def _curve(db, job, points):
    with db.read() as session:
        return curve(session, job.id, points)


def _seed(db, job, numbers, attempt=1):
    with db.write() as session:
        row = session.get(Job, job.id)
        row.attempt = attempt
        seed_steps(session, row, numbers)


def test_a_curve_that_fits_is_every_step(db, job):
    _seed(db, job, range(0, 50, 5))
    got = _curve(db, job, 10)
    assert got.total == 10 and [p["step"] for p in got.points] == list(range(0, 50, 5))
    assert got.points[1]["values"] == {"loss": 1 / 6, "lr": 3e-4} and got.points[1]["attempt"] == 1


@pytest.mark.parametrize("numbers", [
    [*range(0, 3000, 3), *range(3000, 3100)],  # gaps, then none: each end is searched for
    list(range(5, 1105))])  # no gaps: each end is computed
@pytest.mark.parametrize("points", [1, 2, 3, 7, 100, 999])
def test_a_downsampled_curve_keeps_first_and_last_and_at_most_points(db, job, points, numbers):
    _seed(db, job, numbers)
    got = _curve(db, job, points)
    steps = [p["step"] for p in got.points]
    assert got.total == len(numbers) and 1 <= len(steps) <= points
    assert steps == sorted(set(steps)) and set(steps) <= set(numbers)
    assert steps[-1] == numbers[-1] and (points == 1 or steps[0] == numbers[0])
    assert all(p["values"]["loss"] == 1 / (p["step"] + 1) for p in got.points)  # real rows
    if points >= 100:  # evenly spread over the step numbers: no range is left empty
        assert len(steps) >= points * 0.9


def test_attempts_share_the_points_by_their_steps(db, job):
    _seed(db, job, range(3000))
    _seed(db, job, range(2000, 3000), attempt=2)  # resumed from a checkpoint
    got = _curve(db, job, 100)
    by_attempt = [[p["step"] for p in got.points if p["attempt"] == a] for a in (1, 2)]
    assert got.total == 4000 and len(got.points) <= 100
    assert len(by_attempt[0]) == 75 and len(by_attempt[1]) == 25
    assert by_attempt[0][0::74] == [0, 2999] and by_attempt[1][0::24] == [2000, 2999]


# Through the API ----------------------------------------------------------------------------

def test_a_bad_points_is_a_400_that_says_the_range(api):
    job_id = api.submit_ok(script_path="mixed_metrics.py")
    for points in ("0", "10001", "-5"):
        response = api.request("GET", f"/api/v1/training/jobs/{job_id}/metrics?points={points}")
        assert response.status_code == 400, response.text
        assert "must be 1 to 10,000 points" in json.dumps(response.json()["errors"]["points"])
    response = api.request("GET", f"/api/v1/training/jobs/{job_id}/metrics?points=many")
    assert response.status_code == 400 and "points" in response.json()["errors"]


@pytest.mark.e2e
def test_a_script_reporting_2000_steps_and_an_epoch_end_to_end(api, receiver):
    job_id = api.submit_ok(script_path="step_curve.py", args=["2000"], external_id="biz-steps-1")
    api.wait_status(job_id, "completed", timeout=120)
    path = f"/api/v1/training/jobs/{job_id}/metrics"
    every = api.request("GET", path + "?points=10000").json()["data"]
    assert every["steps_total"] == 2000
    assert [p["step"] for p in every["steps"]] == list(range(1, 2001))  # each exactly once
    assert every["steps"][1]["values"] == {"loss": 0.5, "lr": 0.001}
    assert [m["epoch"] for m in every["metrics"]] == [1]  # the epoch still an epoch
    chart = api.request("GET", path + "?points=100").json()["data"]
    steps = [p["step"] for p in chart["steps"]]
    assert chart["steps_total"] == 2000 and 90 <= len(steps) <= 100
    assert steps[0] == 1 and steps[-1] == 2000 and steps == sorted(steps)
    assert len(api.request("GET", path).json()["data"]["steps"]) == 1000  # the default
    hooks = receiver.wait_for("biz-steps-1", lambda got: any(
        h["body"].get("statusType") == 3 for h in got))
    assert [h["body"]["epoch"] for h in hooks if h["path"].endswith("/notify/result")] == [1]
    logs = api.request("GET", f"/api/v1/training/jobs/{job_id}/logs?lines=10000").json()["data"]
    assert logs["logs"] == ["steps done"]  # step lines are not log lines
