"""The broker restarts or loses its data, the consumer dies mid-flood: nothing lost, nothing twice."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from app.models import JobMetric, WebhookDelivery
from config.keys import CONSUMER_GROUP, EVENTS_STREAM
from tests.faults.conftest import FIGURES, runs, wait_until
from tests.support.receiver import WebhookReceiver

pytestmark = pytest.mark.faults


def _count(env, model, job_id) -> int:
    engine = create_engine(env["TRAINQ_DATABASE_URL"])
    try:
        with Session(engine) as session:
            return session.scalar(select(func.count()).select_from(model)
                                  .where(model.job_id == job_id))
    finally:
        engine.dispose()


def _occupy_both_workers(api, tmp_path):
    """Two jobs that hold both worker slots until the returned file exists; later jobs queue."""
    go = tmp_path / "go"
    blockers = [api.submit_ok(script_path="wait_for_file.py", args=[str(go), "60"])
                for _ in range(2)]
    for blocker in blockers:
        api.wait_status(blocker, "training")
    return go, blockers


def _metrics(api, job_id) -> list:
    return api.request("GET", f"/api/v1/training/jobs/{job_id}/metrics").json()["data"]["metrics"]


def test_consumer_killed_mid_flood_loses_and_duplicates_nothing(fault_api, fault_stack, fault_env,
                                                                fault_redis):
    receiver = WebhookReceiver().start()
    try:
        epochs = 3000
        job_id = fault_api.submit_ok(script_path="flood.py", args=[str(epochs)],
                                     notify_url=receiver.url)
        wait_until(lambda: len(_metrics(fault_api, job_id)) >= 300, timeout=60)
        fault_stack.kill("consumer")
        fault_stack.start("consumer")
        job = fault_api.wait_terminal(job_id, timeout=120)
        assert job["status"] == "completed"
        wait_until(lambda: len(_metrics(fault_api, job_id)) == epochs, timeout=60)
        assert [m["epoch"] for m in _metrics(fault_api, job_id)] == list(range(1, epochs + 1))
        assert _count(fault_env, JobMetric, job_id) == epochs
        assert _count(fault_env, WebhookDelivery, job_id) == epochs + 3
        wait_until(lambda: fault_redis.client().xpending(EVENTS_STREAM, CONSUMER_GROUP)
                   ["pending"] == 0, timeout=30)
    finally:
        receiver.stop()


def test_webhook_receiver_down_then_up_gets_everything_in_order(fault_api):
    receiver = WebhookReceiver().start()
    port = receiver.server.server_address[1]
    receiver.stop()
    receiver.server.server_close()  # nothing listens: connection refused
    job_id = fault_api.submit_ok(script_path="mixed_metrics.py",
                                 notify_url=f"http://127.0.0.1:{port}")
    assert fault_api.wait_terminal(job_id)["status"] == "completed"
    time.sleep(2)
    deliveries = fault_api.request("GET", f"/api/v1/training/jobs/{job_id}/webhooks").json()
    head = deliveries["data"]["deliveries"][0]
    assert head["state"] == "pending" and head["attempts"] >= 1
    assert "Connection" in head["last_error"]
    revived = WebhookReceiver(port=port).start()
    back_at = time.monotonic()
    try:
        hooks = revived.wait_for(job_id, lambda got: len(got) == 5, timeout=60)
        FIGURES["receiver_back_to_all_delivered_seconds"] = round(time.monotonic() - back_at, 2)
        assert [h["body"].get("statusType", "epoch") for h in hooks] == [1, 2, "epoch", "epoch", 3]
        assert len({h["headers"]["webhook-id"] for h in hooks}) == 5
        assert all(h["headers"]["webhook-signature"].startswith("v1,") for h in hooks)
    finally:
        revived.stop()


def test_redis_restart_with_persistence_keeps_every_queued_job(fault_api, fault_stack,
                                                                fault_redis, marker, tmp_path):
    go, blockers = _occupy_both_workers(fault_api, tmp_path)
    queued = [fault_api.submit_ok(script_path="marked_run.py", args=[str(marker), "0.1"])
              for _ in range(4)]
    fault_redis.restart(down_seconds=2)
    go.touch()
    for job_id in queued:
        assert fault_api.wait_terminal(job_id, timeout=90)["status"] == "completed"
        assert runs(marker, job_id) == [1]
    for blocker in blockers:
        assert fault_api.wait_terminal(blocker, timeout=60)["status"] == "completed"


def test_redis_flushed_the_reconciler_republishes_without_duplicates(fault_api, fault_redis,
                                                                     marker, tmp_path):
    go, blockers = _occupy_both_workers(fault_api, tmp_path)
    queued = [fault_api.submit_ok(script_path="marked_run.py", args=[str(marker), "0.1"])
              for _ in range(3)]
    fault_redis.client().flushall()  # every queued message, claim and stream entry is gone
    flushed_at = time.monotonic()
    go.touch()
    for job_id in queued:
        assert fault_api.wait_terminal(job_id, timeout=90)["status"] == "completed"
    FIGURES["flush_to_all_republished_jobs_done_seconds"] = round(time.monotonic() - flushed_at, 2)
    time.sleep(2)
    for job_id in queued:
        assert runs(marker, job_id) == [1]
    for blocker in blockers:
        assert fault_api.wait_terminal(blocker, timeout=60)["status"] == "completed"
