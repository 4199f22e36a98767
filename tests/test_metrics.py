"""GET /metrics: what Prometheus scrapes from the live stack, its token, its outages, and the
Grafana dashboard that reads it."""
from __future__ import annotations

import json
import logging
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import redis as redis_lib
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from app import create_app
from app.metrics import record
from app.metrics.catalogue import JOB_DURATION
from app.models import Job
from app.models.base import utcnow
from tests.faults.conftest import wait_until
from tests.support.stack import free_port
from tests.test_tenancy import PARKED, make_workspace

DASHBOARD = Path(__file__).resolve().parent.parent / "config" / "grafana" / "trainq-dashboard.json"
#: The only label names a trainq metric may carry: nothing a user names (workspace, job).
LABELS = {"pool", "status", "state", "outcome", "le"}
TOKEN = "metrics-" + uuid.uuid4().hex


def scrape(base_url: str) -> dict[tuple, float]:
    response = requests.get(base_url + "/metrics", timeout=10)
    assert response.status_code == 200, response.text
    return samples(response.text)


def samples(text: str) -> dict[tuple, float]:
    """(sample name, sorted label items) -> value."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(scraped: dict[tuple, float], name: str, **labels) -> float:
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


def test_a_finished_job_moves_every_event_metric(stack, api, receiver):
    before = scrape(stack["base_url"])
    job_id = api.submit_ok(script_path="show_env.py")
    assert api.wait_terminal(job_id)["status"] == "completed"
    receiver.wait_for(job_id, lambda got: len(got) == 3)  # queued, training, completed

    def moved():
        now = scrape(stack["base_url"])
        grew = [value(now, name, **labels) > value(before, name, **labels) for name, labels in (
            ("trainq_jobs", {"status": "completed", "pool": "cpu"}),
            ("trainq_job_duration_seconds_count", {"pool": "cpu", "status": "completed"}),
            ("trainq_dispatch_latency_seconds_count", {"pool": "cpu"}),
            ("trainq_webhook_deliveries_total", {"outcome": "delivered"}))]
        return now if all(grew) else None

    after = wait_until(moved, timeout=15, interval=0.2)
    delivered = (value(after, "trainq_webhook_deliveries_total", outcome="delivered")
                 - value(before, "trainq_webhook_deliveries_total", outcome="delivered"))
    assert delivered >= 3
    count = value(after, "trainq_job_duration_seconds_count", pool="cpu", status="completed")
    assert value(after, "trainq_job_duration_seconds_bucket", pool="cpu", status="completed",
                 le="+Inf") == count
    assert value(after, "trainq_job_duration_seconds_sum", pool="cpu", status="completed") > 0


def test_hosts_show_as_workers_and_gpus(stack):
    scraped = scrape(stack["base_url"])
    assert value(scraped, "trainq_workers", pool="cpu", state="online") >= 1
    assert value(scraped, "trainq_workers", pool="gpu", state="online") >= 1
    gpu_test = sum(value(scraped, "trainq_gpus", pool="gpu", state=state)
                   for state in ("free", "used", "draining", "offline"))
    assert gpu_test >= 1  # the gpu-test host's one fake GPU
    assert value(scraped, "trainq_gpus", pool="cpu", state="free") == 0  # cpu hosts have none


def test_a_waiting_job_shows_in_its_queue_and_names_nobody(stack, api):
    workspace = make_workspace(api, "metrics")
    name = "metrics-" + uuid.uuid4().hex
    job_id = api.submit_ok(name=name, workspace_id=workspace["id"], **PARKED)
    try:
        scraped = wait_until(lambda: _waited(stack["base_url"]), timeout=10, interval=0.2)
        assert value(scraped, "trainq_queue_depth", pool="idle") >= 1
        assert value(scraped, "trainq_jobs", status="queued", pool="idle") >= 1
        text = requests.get(stack["base_url"] + "/metrics", timeout=10).text
        for secret in (job_id, name, workspace["name"]):
            assert secret not in text
        names = {label for family in text_string_to_metric_families(text)
                 for s in family.samples for label in s.labels}
        assert names <= LABELS
    finally:
        api.request("POST", f"/api/v1/training/jobs/{job_id}/stop")


def _waited(base_url: str):
    scraped = scrape(base_url)
    return scraped if value(scraped, "trainq_queue_oldest_seconds", pool="idle") > 0 else None


@pytest.fixture
def guarded(settings, migrated):
    app = create_app(settings.with_changes(metrics_token=TOKEN))
    yield app.test_client()
    app.extensions["trainq"].close()


def test_the_token_is_required_when_set(guarded):
    missing = guarded.get("/metrics")
    assert missing.status_code == 401 and "TRAINQ_METRICS_TOKEN" in missing.get_json()["message"]
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = guarded.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}x"})
    assert wrong.status_code == 401
    right = guarded.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert right.status_code == 200 and right.content_type.startswith("text/plain")
    assert "trainq_jobs" in right.get_data(as_text=True)


def test_the_metrics_route_is_documented_as_text(guarded):
    operation = guarded.get("/openapi.json").get_json()["paths"]["/metrics"]["get"]
    assert "text/plain" in operation["responses"]["200"]["content"]
    assert {"401", "503"} <= set(operation["responses"])


def test_redis_down_is_503_naming_redis(settings, migrated):
    app = create_app(settings.with_changes(redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    response = app.test_client().get("/metrics")
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert "Redis is not answering" in response.get_json()["message"]


def test_database_down_is_503_naming_the_database(settings):
    url = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none?connect_timeout=2"
    response = create_app(settings.with_changes(database_url=url)).test_client().get("/metrics")
    assert response.status_code == 503
    assert "the database is not answering" in response.get_json()["message"]


def _finished_job(pool: str) -> Job:
    started = utcnow()
    return Job(id="job-unit", pool=pool, status="completed", started_at=started,
               finished_at=started + timedelta(hours=3))


def _duration_count(redis_client, pool: str) -> float:
    fields = redis_client.hgetall("trainq:metrics:" + JOB_DURATION.name)
    return sum(float(v) for k, v in fields.items()
               if k.startswith(f"{pool}|completed|") and not k.endswith("|sum"))


def test_a_run_time_counts_only_once_its_transaction_commits(redis_client):
    pool = "unit-" + uuid.uuid4().hex[:8]  # no stack process writes this pool
    engine = create_engine("sqlite://")
    with pytest.raises(RuntimeError), Session(engine) as session, session.begin():
        record.job_finished(session, redis_client, _finished_job(pool))
        raise RuntimeError("rolled back")
    assert _duration_count(redis_client, pool) == 0
    with Session(engine) as session, session.begin():
        record.job_finished(session, redis_client, _finished_job(pool))
    assert _duration_count(redis_client, pool) == 1
    redis_client.hdel("trainq:metrics:" + JOB_DURATION.name,
                      *[k for k in redis_client.hkeys("trainq:metrics:" + JOB_DURATION.name)
                        if k.startswith(pool + "|")])


def test_a_dead_redis_never_fails_the_recording_process(caplog):
    dead = redis_lib.Redis(port=free_port(), socket_connect_timeout=0.5)
    job = _finished_job("cpu")
    job.created_at = job.started_at
    with caplog.at_level(logging.WARNING, logger="app.metrics.record"):
        record.job_dispatched(dead, job)
    assert "trainq_dispatch_latency_seconds not recorded" in caplog.text


def test_the_grafana_dashboard_charts_every_metric(stack):
    dashboard = json.loads(DASHBOARD.read_text())
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    exprs = " ".join(target["expr"] for panel in dashboard["panels"]
                     for target in panel.get("targets", []))
    text = requests.get(stack["base_url"] + "/metrics", timeout=10).text
    served = {family.name for family in text_string_to_metric_families(text)}
    assert served and all(name in exprs for name in served), served
    for panel in dashboard["panels"]:
        if panel.get("targets"):
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
