"""Seed 004's open API against the live stack: the document's example body creates a job that
runs, every documented field of its answer is filled from trainq's data, errors are strings that
say what to fix, and a job is one job whichever API creates, stops or lists it."""
from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.support.client import ApiClient
from tests.test_tenancy import make_user, make_workspace

pytestmark = pytest.mark.e2e
FIXTURE = Path(__file__).parent / "fixtures" / "seed004_create.json"
CREATE, DETAIL, STOP = (f"/openapi/v1/train_job/{verb}" for verb in ("create", "detail", "stop"))


@pytest.fixture(scope="module")
def dataset_id(api, stack_env) -> str:
    name = f"digits-{uuid.uuid4().hex[:6]}"
    (Path(stack_env["TRAINQ_VAR_DIR"]) / "datasets" / name).mkdir(parents=True)
    response = api.request("POST", "/api/v1/admin/datasets", json={"name": name, "path": name})
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


def _example(dataset_id: str, **changes) -> dict:
    body = json.loads(FIXTURE.read_text())
    body["dataset_info"][0]["dataset_id"] = dataset_id
    return {**body, **changes}


def _create(api, body) -> dict:
    response = api.request("POST", CREATE, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def _detail(api, job_id: str) -> dict:
    response = api.request("POST", DETAIL, json={"job_id": job_id})
    assert response.status_code == 200, response.text
    return response.json()


def _wait_detail(api, job_id: str, status: str, timeout: float = 90) -> dict:
    api.wait_status(job_id, status, timeout=timeout)
    return _detail(api, job_id)


def test_the_documents_example_runs_and_every_field_is_filled(api, dataset_id, stack_env):
    created = _create(api, _example(dataset_id))
    assert created["status"] == "queued" and created["job_id"].startswith("job-")
    assert created["command"] == 'python show_env.py --alpha "two words"'
    assert set(created["timeline"]) == {"created"} and created["timeline"]["created"].isdigit()
    assert created["created_at"] == created["timeline"]["created"]
    assert "finished_at" not in created and created["running_time_ms"] == "0"
    done = _wait_detail(api, created["job_id"], "completed")
    config = done["framework_config"][0]
    assert (config["cpu"], config["gpu_count"], config["mem_gi"], config["instance_count"]) == \
        (1, 0, 1.0, 1)
    assert (config["predef_id"], config["image"], config["image_type"], config["shm_gi"]) == \
        ("cpu-1", "default", "custom", 2.0)
    assert config["instance_spec_price_info"]["total_price_per_hour"] == 0.25
    assert config["resource_spec_price"]["logic_compute_group_id"] == "cpu"
    assert set(done["timeline"]) == {"created", "resource_prepared", "run", "finished"}
    assert int(done["timeline"]["created"]) <= int(done["timeline"]["run"]) <= \
        int(done["timeline"]["finished"]) == int(done["finished_at"])
    assert int(done["running_time_ms"]) > 0 and done["current_running_round"] == 1
    assert (done["node_count"], done["node_infos"]) == (1, [{"node_name": "cpu-test"}])
    assert (done["logic_compute_group_id"], done["queue_name"]) == ("cpu", "train.cpu.p05")
    assert (done["priority"], done["task_priority"], done["workspace_id"]) == (5, 5, "1")
    assert done["created_by"]["name"] == "admin" and done["created_by"]["global_role"] == 1
    assert done["envs"] == [{"name": "MY_FLAG", "value": "on"}]
    assert done["dataset_info"][0]["dataset_id"] == dataset_id
    assert (done["reserve_on_fail_ms"], done["max_running_time_ms"]) == ("3600000", "600000")
    assert (done["auto_fault_tolerance"], done["enable_notification"]) == (True, True)
    assert done["enable_troubleshoot"] is True and done["tb_summary_path"] == "tb"
    assert "sub_msg" not in done
    shown = _shown_env(api, done["job_id"])
    assert shown["argv"] == ["--alpha", "two words"] and shown["env"]["MY_FLAG"] == "on"
    output = Path(shown["env"]["TRAINQ_OUTPUT_DIR"])
    assert shown["env"]["TRAINQ_TB_DIR"] == str(output / "tb")
    datasets = json.loads(shown["env"]["TRAINQ_DATASETS"])
    assert datasets["train"][0].endswith(f"/datasets/{done['dataset_info'][0]['path']}")


def _shown_env(api, job_id: str) -> dict:
    logs = api.request("GET", f"/api/v1/training/jobs/{job_id}/logs").json()["data"]["logs"]
    line = next(line for line in logs if line.startswith("ENV "))
    return json.loads(line[4:])


def test_a_seed_004_job_is_stopped_natively_and_listed_as_runs(api, dataset_id):
    job_id = _create(api, _example(dataset_id, name="cross-004", command="python sleep_for.py 60",
                                   framework_config=[{"spec_id": "cpu-1"}]))["job_id"]
    api.wait_status(job_id, "training", timeout=60)
    assert api.request("POST", f"/api/v1/training/jobs/{job_id}/stop").status_code == 200
    assert api.wait_terminal(job_id)["status"] == "cancelled"
    assert _detail(api, job_id)["status"] == "cancelled"
    tasks = api.request("GET", f"/v4/openapi/app-groups/1/functions/cross-004/instances/{job_id}"
                               "/tasks").json()
    assert [(t["runId"], t["status"]) for t in tasks["result"]] == [(f"{job_id}.1", "cancelled")]


def test_a_native_job_is_read_and_stopped_through_seed_004(api):
    job_id = api.submit_ok(name="cross-001", script_path="sleep_for.py", args=["60"], pool="idle")
    detail = _detail(api, job_id)
    assert detail["command"] == "python sleep_for.py 60" and detail["status"] == "queued"
    assert detail["sub_msg"] and detail["logic_compute_group_id"] == "idle"
    assert "predef_id" not in detail["framework_config"][0]
    assert api.request("POST", STOP, json={"job_id": job_id}).json() == {}
    assert api.job(job_id)["status"] == "cancelled"
    again = api.request("POST", STOP, json={"job_id": job_id})
    assert again.status_code == 400 and "already cancelled" in again.json()


def test_a_torchrun_command_becomes_a_gang_job(api):
    created = _create(api, {"name": "gang", "framework": "PyTorch", "command":
                            "torchrun --nproc_per_node=2 --nnodes 2 ddp_check.py 3 0.1",
                            "framework_config": [{"spec_id": "parked", "instance_count": 2}]})
    native = api.job(created["job_id"])
    assert (native["launcher"], native["instance_count"], native["nproc_per_node"]) == \
        ("torchrun", 2, 2)
    assert created["node_count"] == 2 and created["framework"] == "pytorch"
    api.request("POST", STOP, json={"job_id": created["job_id"]})


def test_no_webhooks_for_a_job_without_notification(api, dataset_id):
    quiet = _create(api, _example(dataset_id, enable_notification=False,
                                  command="python fail.py"))["job_id"]
    loud = _create(api, _example(dataset_id, command="python fail.py"))["job_id"]
    for job_id in (quiet, loud):
        api.wait_terminal(job_id)
    deliveries = {job_id: api.request("GET", f"/api/v1/training/jobs/{job_id}/webhooks")
                  .json()["data"]["deliveries"] for job_id in (quiet, loud)}
    assert deliveries[quiet] == [] and len(deliveries[loud]) >= 3
    assert _detail(api, quiet)["enable_notification"] is False


@pytest.mark.parametrize("change, field, words", [
    ({"command": ""}, "command", "is required"),
    ({"command": "python show_env.py; rm -rf /"}, "command", "shell syntax"),
    ({"command": "python show_env.py && echo"}, "command", "shell syntax"),
    ({"command": "python $(whoami).py"}, "command", "shell syntax"),
    ({"command": "bash run.sh"}, "command", "must start with python"),
    ({"command": "python ../../etc/passwd"}, "command", "script"),
    ({"command": "torchrun --master_addr=x a.py"}, "command", "not accepted"),
    ({"framework_config": [{"spec_id": "h100-8"}]}, "framework_config[0].spec_id", "cpu-1"),
    ({"framework_config": [{}]}, "framework_config", "spec_id: Missing data for required"),
    ({"framework": "jax"}, "framework", "pytorch or tensorflow"),
    ({"envs": [{"name": "TRAINQ_X", "value": "1"}]}, "envs", "set by trainq"),
    ({"dataset_info": [{"dataset_id": "abc"}]}, "dataset_info", "is not a registered"),
    ({"dataset_info": [{"dataset_id": "987654"}]}, "dataset_info", "987654"),
    ({"workspace_id": "1", "project_id": "2"}, "project_id", "differs"),
    ({"tb_summary_path": "/tmp/tb"}, "tb_summary_path", "relative"),
    ({"task_priority": 11}, "task_priority", "0 to 10"),
    ({"max_running_time_ms": "soon"}, "max_running_time_ms", "milliseconds"),
    ({"name": ""}, "name", "is required"),
])
def test_bad_input_is_a_400_string_naming_the_field(api, dataset_id, change, field, words):
    before = api.request("GET", "/api/v1/training/jobs", params={"page_size": 1}).json()
    response = api.request("POST", CREATE, json=_example(dataset_id, **change))
    assert response.status_code == 400, response.text
    message = response.json()
    assert isinstance(message, str) and f"{field}:" in message and words in message, message
    after = api.request("GET", "/api/v1/training/jobs", params={"page_size": 1}).json()
    assert after["data"]["pagination"]["total"] == before["data"]["pagination"]["total"]


def test_without_a_token_it_is_a_401_string(stack):
    anonymous = ApiClient(stack["base_url"])
    for path in (CREATE, DETAIL, STOP):
        response = anonymous.request("POST", path, json={"job_id": "job-1"})
        assert response.status_code == 401 and "POST /auth/token" in response.json()


def test_unknown_and_foreign_jobs_are_404_strings_and_viewers_cannot_stop(api, stack):
    for path in (DETAIL, STOP):
        response = api.request("POST", path, json={"job_id": "job-0000000000000000"})
        assert response.status_code == 404 and "no training job" in response.json()
    workspace = make_workspace(api, "s4")
    viewer = make_user(api, stack, "s4-viewer", {workspace["id"]: "viewer"})
    outsider = make_user(api, stack, "s4-out", {})
    job_id = api.submit_ok(pool="idle", workspace_id=workspace["id"])
    assert viewer.request("POST", DETAIL, json={"job_id": job_id}).status_code == 200
    refused = viewer.request("POST", STOP, json={"job_id": job_id})
    assert refused.status_code == 403 and "manager" in refused.json()
    assert outsider.request("POST", DETAIL, json={"job_id": job_id}).status_code == 404
    api.request("POST", STOP, json={"job_id": job_id})
