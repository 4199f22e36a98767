"""POST /api/v1/training/jobs/batch on the live stack: a sweep is queued and runs as ordinary
jobs under one batch id, or nothing of it is recorded; Idempotency-Key replays it whole."""
from __future__ import annotations

import uuid

import pytest

from tests.support.client import VALID_JOB
from tests.test_tenancy import PARKED, make_user, make_workspace

pytestmark = pytest.mark.e2e
BATCH = "/api/v1/training/jobs/batch"
QUICK = {**VALID_JOB, "script_path": "sleep_for.py", "args": ["0"]}


def _total(api) -> int:
    return api.request("GET", "/api/v1/training/jobs", params={"page_size": 1}).json()[
        "data"]["pagination"]["total"]


def test_a_sweep_runs_as_one_batch_of_ordinary_jobs(api):
    sweep = [{**QUICK, "name": f"sweep-lr-{lr}", "envs": {"LR": lr}}
             for lr in ("0.1", "0.01", "0.001")]
    response = api.request("POST", BATCH, json={"jobs": sweep})
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["count"] == 3 and data["batch_id"].startswith("batch-")
    names = [api.job(job_id)["name"] for job_id in data["job_ids"]]
    assert names == ["sweep-lr-0.1", "sweep-lr-0.01", "sweep-lr-0.001"]   # the order sent
    for job_id in data["job_ids"]:
        job = api.wait_terminal(job_id)
        assert (job["status"], job["batch_id"]) == ("completed", data["batch_id"])
    listed = api.request("GET", "/api/v1/training/jobs",
                         params={"batch_id": data["batch_id"]}).json()["data"]
    assert sorted(item["job_id"] for item in listed["items"]) == sorted(data["job_ids"])


def test_one_bad_job_refuses_the_whole_batch_naming_it(api):
    before = _total(api)
    jobs = [{**PARKED, **VALID_JOB, "pool": "idle"},
            {**VALID_JOB, "pool": "idle", "script_path": "missing.py"},
            {**VALID_JOB, "pool": "idle", "gpu": 64}]
    response = api.request("POST", BATCH, json={"jobs": jobs})
    assert response.status_code == 400, response.text
    errors = response.json()["errors"]
    assert set(errors) == {"jobs[1].script_path", "jobs[2].gpu"}, errors
    assert "no job of the batch was created" in response.json()["message"]
    assert _total(api) == before


@pytest.mark.parametrize("body, words", [
    ({"jobs": []}, "1 to 1000 jobs"), ({"jobs": [dict(VALID_JOB)] * 1001}, "1 to 1000 jobs"),
    ({"jobs": [{**VALID_JOB, "cpu": "2"}]}, "whole number"), ({}, "Missing data"),
    ({"jobs": [VALID_JOB], "extra": 1}, "unknown field"),
])
def test_a_malformed_batch_is_a_400(api, body, words):
    response = api.request("POST", BATCH, json=body)
    assert response.status_code == 400 and words in response.text, response.text


def test_the_same_key_replays_the_batch_and_another_body_conflicts(api):
    key, body = str(uuid.uuid4()), {"jobs": [{**VALID_JOB, **PARKED}] * 2}
    first = api.request("POST", BATCH, json=body, headers={"Idempotency-Key": key})
    again = api.request("POST", BATCH, json=body, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["data"] == first.json()["data"]
    other = api.request("POST", BATCH, json={"jobs": [{**VALID_JOB, **PARKED}]},
                        headers={"Idempotency-Key": key})
    assert other.status_code == 409
    for job_id in first.json()["data"]["job_ids"]:
        api.request("POST", f"/api/v1/training/jobs/{job_id}/stop")


def test_a_batch_that_would_overfill_the_queue_is_refused_whole(api, stack):
    workspace = make_workspace(api, "batchq", max_queued_jobs=2)
    body = {"jobs": [{**VALID_JOB, **PARKED, "workspace_id": workspace["id"]}] * 3}
    response = api.request("POST", BATCH, json=body)
    assert response.status_code == 429 and "these 3 would make 3" in response.json()["message"]
    listed = api.request("GET", "/api/v1/training/jobs", params={"workspace_id": workspace["id"]})
    assert listed.json()["data"]["pagination"]["total"] == 0
    viewer = make_user(api, stack, "batch-viewer", {workspace["id"]: "viewer"})
    refused = viewer.request("POST", BATCH, json={"jobs": [{**VALID_JOB, **PARKED,
                                                            "workspace_id": workspace["id"]}]})
    assert refused.status_code == 403 and "jobs[0]" in refused.json()["message"]
    assert api.__class__(stack["base_url"]).request("POST", BATCH, json=body).status_code == 401


@pytest.mark.parametrize("batch_id", ["batch-\x00", "job-0123456789abcdef", "batch-XYZ"])
def test_a_batch_filter_that_is_no_batch_id_is_a_400_saying_the_shape(api, batch_id):
    """A NUL byte once reached PostgreSQL as a 500; every other shape is just as surely empty."""
    response = api.request("GET", "/api/v1/training/jobs", params={"batch_id": batch_id})
    assert response.status_code == 400, response.text
    assert "batch-0123456789abcdef" in " ".join(response.json()["errors"]["batch_id"])
