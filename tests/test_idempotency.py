"""Idempotency-Key on job submission: a retried request never creates a second job."""
from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from tests.support.client import VALID_JOB

URL = "/api/v1/training/jobs"


def _post(api, key, **changes):
    return api.request("POST", URL, json={**VALID_JOB, "gpu": 2, **changes},
                       headers={"Idempotency-Key": key})


def test_same_key_and_body_give_the_same_job(api):
    key = str(uuid.uuid4())
    first, second = _post(api, key), _post(api, key)
    assert first.status_code == second.status_code == 201
    assert first.json()["data"]["job_id"] == second.json()["data"]["job_id"]
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers


def test_same_key_with_another_body_is_a_conflict(api):
    key = str(uuid.uuid4())
    assert _post(api, key).status_code == 201
    again = _post(api, key, name="something else")
    assert again.status_code == 409
    assert "different request body" in again.json()["message"]


def test_concurrent_retries_create_one_job(api):
    key = str(uuid.uuid4())
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: _post(api, key), range(6)))
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["data"]["job_id"] for a in answers}) == 1


def test_key_too_long_is_refused(api):
    response = _post(api, "k" * 256)
    assert response.status_code == 400 and "Idempotency-Key" in response.json()["errors"]
