"""Flower on the trainq app: behind basic auth, and its broker view lists every trainq queue."""
from __future__ import annotations

import time

import pytest
import requests

from config.queues import all_queues
from tests.conftest import ADMIN_PASSWORD
from tests.support.stack import Service, free_port, trainq


@pytest.fixture(scope="module")
def flower(stack, stack_env, tmp_path_factory):
    port = free_port()
    env = {**stack_env, "TRAINQ_FLOWER_PORT": str(port)}
    service = Service("flower", trainq("flower"), env, tmp_path_factory.mktemp("flower")).start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(url + "/healthcheck", timeout=2)
            break
        except requests.ConnectionError:
            time.sleep(0.2)
    yield url
    service.stop()


def test_flower_requires_credentials(flower):
    assert requests.get(flower + "/api/workers", timeout=10).status_code == 401
    assert requests.get(flower + "/broker", timeout=10).status_code == 401


def test_broker_view_lists_every_queue_with_its_length(flower, api, settings):
    waiting = api.submit_ok(gpu=2, priority=8)  # idle pool: no worker will take it
    auth = ("admin", ADMIN_PASSWORD)
    deadline = time.monotonic() + 30
    while True:
        lengths = {q["name"]: q["messages"] for q in requests.get(
            flower + "/api/queues/length", auth=auth, timeout=10).json()["active_queues"]}
        if lengths.get("train.idle.p08", 0) >= 1 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert set(all_queues(settings.pools)) <= set(lengths)
    assert lengths["train.idle.p08"] >= 1
    page = requests.get(flower + "/broker", auth=auth, timeout=10).text
    assert "train.idle.p08" in page and "train.gpu.p10" in page
    api.request("POST", f"/api/v1/training/jobs/{waiting}/stop")
