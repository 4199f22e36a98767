"""End to end through the HTTP API: real worker, real training subprocesses, real webhooks."""
from __future__ import annotations

import json

import pytest

from tests.conftest import FAKE_GPU_ID, WEBHOOK_SECRET
from tests.support.receiver import verified

pytestmark = pytest.mark.e2e
RESULT_FIELDS = {"trainTaskId", "epoch", "accuracy", "loss", "valAccuracy", "valLoss", "f1Score"}


def _status_types(hooks):
    return [h["body"]["statusType"] for h in hooks if h["path"].endswith("/notify/status")]


def _assert_trained(api, receiver, job_id: str, epochs: int, external_id: str) -> dict:
    job = api.wait_status(job_id, "completed", timeout=120)
    hooks = receiver.wait_for(external_id, lambda got: 3 in _status_types(got))
    assert _status_types(hooks) == [1, 2, 3]
    paths = [h["path"].rsplit("/", 1)[1] for h in hooks]
    assert paths == ["status", "status"] + ["result"] * epochs + ["status"]
    results = [h["body"] for h in hooks if h["path"].endswith("/notify/result")]
    assert [r["epoch"] for r in results] == list(range(1, epochs + 1))
    for result in results:
        assert set(result) == RESULT_FIELDS
        assert all(isinstance(result[k], float) for k in RESULT_FIELDS - {"trainTaskId", "epoch"})
    assert results[-1]["valAccuracy"] > 0.85
    assert all(h["headers"].get("webhook-id", "").startswith("evt_") for h in hooks)
    assert len({h["headers"]["webhook-id"] for h in hooks}) == len(hooks)
    assert all(verified(hook, WEBHOOK_SECRET) == hook["body"] for hook in hooks)
    return job


def _assert_metrics_match_webhooks(api, receiver, job_id, external_id):
    metrics = api.request("GET", f"/api/v1/training/jobs/{job_id}/metrics").json()["data"]["metrics"]
    results = [h["body"] for h in receiver.for_task(external_id)
               if h["path"].endswith("/notify/result")]
    assert [(m["epoch"], m["loss"], m["val_accuracy"]) for m in metrics] == \
        [(r["epoch"], r["loss"], r["valAccuracy"]) for r in results]
    return metrics


def test_pytorch_example_trains_to_completed(api, receiver):
    job_id = api.submit_ok(name="digits-torch", script_path="train_pytorch.py",
                           args=["--epochs", "4"], external_id="biz-torch-1")
    job = _assert_trained(api, receiver, job_id, 4, "biz-torch-1")
    timeline = job["timeline"]
    assert timeline["created"] <= timeline["started"] <= timeline["finished"]
    assert [t["to_status"] for t in job["transitions"]] == ["queued", "training", "completed"]
    assert job["attempts"][0]["exit_code"] == 0 and job["attempts"][0]["worker"] == "cpu-test"
    metrics = _assert_metrics_match_webhooks(api, receiver, job_id, "biz-torch-1")
    assert all(m["f1_score"] is not None and m["total_epochs"] == 4 for m in metrics)
    assert job["latest_metrics"]["epoch"] == 4
    logs = api.request("GET", f"/api/v1/training/jobs/{job_id}/logs").json()["data"]
    assert "Epoch 4/4" in "\n".join(logs["logs"])
    assert any(e["stream"] == "stderr" and "loading digits" in e["line"] for e in logs["entries"])
    assert not any(line.startswith("##trainq") for line in logs["logs"])


def test_keras_example_trains_to_completed(api, receiver):
    job_id = api.submit_ok(name="digits-keras", framework="tensorflow",
                           script_path="train_keras.py", args=["--epochs", "3"])
    _assert_trained(api, receiver, job_id, 3, job_id)
    _assert_metrics_match_webhooks(api, receiver, job_id, job_id)


def test_failing_script_fails_with_its_stderr(api, receiver):
    job_id = api.submit_ok(script_path="fail.py", args=["3"])
    job = api.wait_terminal(job_id)
    assert job["status"] == "failed"
    assert "exited with code 3" in job["failure_message"]
    assert "learning rate must be positive" in job["failure_message"]
    assert len(job["failure_message"]) <= 500
    assert job["attempts"][0]["failure_class"] == "user_error"
    hooks = receiver.wait_for(job_id, lambda got: 4 in _status_types(got))
    final = [h["body"] for h in hooks if h["body"].get("statusType") == 4][0]
    assert "learning rate must be positive" in final["failureMessage"]


def test_script_that_cannot_start_fails_with_the_reason(api, receiver, script_root, release_dir):
    blocker = api.submit_ok(script_path="wait_for_file.py", gpu=1,
                            args=[str(release_dir / "go"), "60"])
    api.wait_status(blocker, "training")
    doomed = script_root / "vanishing.py"
    doomed.write_text("print('never runs')\n")
    job_id = api.submit_ok(script_path="vanishing.py", gpu=1)
    doomed.unlink()  # gone before the worker gets to it
    (release_dir / "go").touch()
    job = api.wait_terminal(job_id)
    assert job["status"] == "failed"
    assert "could not start" in job["failure_message"] and "vanishing.py" in job["failure_message"]
    assert job["attempts"][0]["failure_class"] == "setup_error"


def test_metric_lines_malformed_or_not_finite(api):
    job_id = api.submit_ok(script_path="mixed_metrics.py")
    assert api.wait_terminal(job_id)["status"] == "completed"
    metrics = api.request("GET", f"/api/v1/training/jobs/{job_id}/metrics").json()["data"]["metrics"]
    assert [m["epoch"] for m in metrics] == [1, 2]
    assert metrics[0]["extra"] == {"lr": 0.01}
    assert metrics[1]["loss"] is None and metrics[1]["accuracy"] is None
    assert metrics[1]["f1_score"] == 0.7
    logs = api.request("GET", f"/api/v1/training/jobs/{job_id}/logs").json()["data"]["logs"]
    assert logs == ["##trainq {this is not json", '##trainq {"loss": 0.3}', "plain line"]


@pytest.mark.parametrize("gpu, expected_devices", [(0, ""), (1, FAKE_GPU_ID)])
def test_script_env_is_pinned_and_clean(api, gpu, expected_devices):
    job_id = api.submit_ok(script_path="show_env.py", gpu=gpu, args=["--lr", "0.1", "a b"],
                           envs={"MY_SETTING": "42"})
    assert api.wait_terminal(job_id)["status"] == "completed"
    line = api.request("GET", f"/api/v1/training/jobs/{job_id}/logs").json()["data"]["logs"][0]
    shown = json.loads(line.removeprefix("ENV "))
    env = shown["env"]
    assert env["CUDA_VISIBLE_DEVICES"] == expected_devices
    assert env["TRAINQ_JOB_ID"] == job_id and env["TRAINQ_ATTEMPT"] == "1"
    assert env["MY_SETTING"] == "42"
    assert env["TRAINQ_CHECKPOINT_DIR"].endswith(f"{job_id}/checkpoints")
    assert env["TRAINQ_OUTPUT_DIR"].endswith(f"{job_id}/output")
    assert "TRAINQ_DATASET_DIR" not in env  # tests/test_datasets.py checks a job with one
    assert "TRAINQ_SECRET_KEY" not in env and "TRAINQ_REDIS_URL" not in env
    assert shown["argv"] == ["--lr", "0.1", "a b"]  # a list, never a shell string


@pytest.mark.gpu
def test_cuda_is_visible_to_the_script_on_a_gpu_host(api):
    pytest.importorskip("torch")
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU on this machine")
    job_id = api.submit_ok(script_path="cuda_check.py", gpu=1)
    assert api.wait_terminal(job_id)["status"] == "completed"
