"""Webhook delivery through a receiver that fails, then recovers: nothing lost, order kept."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from app.models import WebhookDelivery
from tests.conftest import WEBHOOK_SECRET
from tests.support.receiver import verified

pytestmark = pytest.mark.e2e


def _deliveries(settings, job_id):
    engine = create_engine(settings.database_url)
    try:
        with Session(engine) as session:
            return session.scalars(select(WebhookDelivery).where(WebhookDelivery.job_id == job_id)
                                   .order_by(WebhookDelivery.id)).all()
    finally:
        engine.dispose()


def _wait(predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


@pytest.mark.parametrize("failure", ["http_503", "success_false"])
def test_receiver_outage_then_recovery_delivers_everything_in_order(
        api, settings, second_receiver, failure):
    if failure == "http_503":
        second_receiver.fail_with = 503
    else:
        second_receiver.refuse_with_success_false = True
    job_id = api.submit_ok(script_path="mixed_metrics.py", notify_url=second_receiver.url)
    assert api.wait_terminal(job_id)["status"] == "completed"
    _wait(lambda: len(second_receiver.refused) >= 2)
    rows = _deliveries(settings, job_id)
    assert len(rows) == 5 and all(r.state == "pending" for r in rows)
    assert rows[0].attempts >= 1 and rows[0].last_error
    assert all(r.attempts == 0 for r in rows[1:])  # later ones wait behind the first: order
    assert {r["body"]["statusType"] for r in second_receiver.refused} == {1}
    second_receiver.fail_with, second_receiver.refuse_with_success_false = None, False
    hooks = second_receiver.wait_for(job_id, lambda got: len(got) == 5, timeout=40)
    kinds = [(h["path"].rsplit("/", 1)[1], h["body"].get("statusType") or h["body"]["epoch"])
             for h in hooks]
    assert kinds == [("status", 1), ("status", 2), ("result", 1), ("result", 2), ("status", 3)]
    second_epoch = hooks[3]["body"]
    assert second_epoch["loss"] is None and second_epoch["accuracy"] is None  # NaN, inf
    assert second_epoch["f1Score"] == 0.7
    # the receiver has the last one a moment before the dispatcher records its answer
    _wait(lambda: all(r.state == "delivered" for r in _deliveries(settings, job_id)))


def test_every_delivery_verifies_with_the_standard_webhooks_library(api, receiver):
    job_id = api.submit_ok(script_path="show_env.py")
    hooks = receiver.wait_for(job_id, lambda got: [h["body"].get("statusType") for h in got]
                              == [1, 2, 3])
    assert [verified(hook, WEBHOOK_SECRET) for hook in hooks] == [h["body"] for h in hooks]


def test_one_jobs_dead_receiver_does_not_hold_up_another_job(api, receiver, second_receiver):
    second_receiver.fail_with = 500
    stuck = api.submit_ok(script_path="show_env.py", notify_url=second_receiver.url)
    free = api.submit_ok(script_path="show_env.py")
    api.wait_terminal(stuck)
    receiver.wait_for(free, lambda got: [h["body"].get("statusType") for h in got] == [1, 2, 3])
    assert second_receiver.requests == []


def _deliveries_api(api, job_id):
    response = api.request("GET", f"/api/v1/training/jobs/{job_id}/webhooks")
    assert response.status_code == 200
    return response.json()["data"]["deliveries"]


def test_gone_receiver_marks_delivery_dead_and_it_can_be_redelivered(api, second_receiver):
    second_receiver.fail_with = 410
    job_id = api.submit_ok(gpu=2, notify_url=second_receiver.url)  # stays queued: one webhook
    _wait(lambda: _deliveries_api(api, job_id)[0]["state"] == "dead")
    dead = _deliveries_api(api, job_id)[0]
    assert dead["last_status_code"] == 410 and dead["attempts"] == 1
    assert dead["payload"] == {"trainTaskId": job_id, "statusType": 1}
    second_receiver.fail_with = None
    again = api.request("POST", f"/api/v1/training/jobs/{job_id}/webhooks/{dead['id']}/redeliver")
    assert again.status_code == 200 and again.json()["data"]["state"] == "pending"
    hooks = second_receiver.wait_for(job_id, lambda got: len(got) == 1)
    assert hooks[0]["headers"]["webhook-id"] == dead["event_id"]  # same event id on replay
    _wait(lambda: _deliveries_api(api, job_id)[0]["state"] == "delivered")
    twice = api.request("POST", f"/api/v1/training/jobs/{job_id}/webhooks/{dead['id']}/redeliver")
    assert twice.status_code == 409 and "only a dead delivery" in twice.json()["message"]
    assert api.request("POST", f"/api/v1/training/jobs/{job_id}/webhooks/999999/redeliver"
                       ).status_code == 404
    api.request("POST", f"/api/v1/training/jobs/{job_id}/stop")


def test_redirects_are_not_followed(api, second_receiver, receiver):
    second_receiver.fail_with = 307
    second_receiver.redirect_to = receiver.url  # a redirect must never carry the body elsewhere
    job_id = api.submit_ok(gpu=2, notify_url=second_receiver.url)
    _wait(lambda: _deliveries_api(api, job_id)[0]["attempts"] >= 1)
    head = _deliveries_api(api, job_id)[0]
    assert head["state"] == "pending" and head["last_status_code"] == 307
    assert receiver.for_task(job_id) == []
    api.request("POST", f"/api/v1/training/jobs/{job_id}/stop")
