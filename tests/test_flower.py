"""Flower on the trainq app: behind basic auth, and its broker view lists every host's queue."""
from __future__ import annotations

import time

import pytest
import requests

from config.celery import declared_queue
from config.keys import HOSTS_SET, host_key
from config.queues import RUN_JOB_TASK, host_queue
from config.settings import Settings
from tests.conftest import ADMIN_PASSWORD, REDIS_URL
from workers.celery_app import make_celery
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


def test_broker_view_lists_every_host_queue_with_its_length(flower, api, redis_client):
    """A host that is down still shows its queue, with the work placed there before it died."""
    redis_client.hset(host_key("gone-host"), mapping={"pool": "idle", "gpus": "0,1",
                                                     "slots": 1, "seen": 0})
    redis_client.sadd(HOSTS_SET, "gone-host")
    queue = declared_queue(host_queue("gone-host"))
    celery = make_celery(Settings.from_env({"TRAINQ_REDIS_URL": REDIS_URL}))
    celery.send_task(RUN_JOB_TASK, kwargs={}, queue=queue, declare=[queue])
    auth = ("admin", ADMIN_PASSWORD)
    try:
        lengths = {q["name"]: q["messages"] for q in requests.get(
            flower + "/api/queues/length", auth=auth, timeout=10).json()["active_queues"]}
        assert {"host.cpu-test", "host.gpu-test"} <= set(lengths)
        assert lengths["host.gone-host"] == 1
        page = requests.get(flower + "/broker", auth=auth, timeout=10).text
        assert "host.gone-host" in page and "host.gpu-test" in page
    finally:
        redis_client.delete(queue.name, host_key("gone-host"))
        redis_client.srem(HOSTS_SET, "gone-host")
